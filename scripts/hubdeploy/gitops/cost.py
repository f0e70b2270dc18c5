"""What an environment's endpoint costs per month, before and after a plan, from the plan JSON and the price table.

Real-time: instance price per hour x instances x 730 hours (AWS's own month in its pricing calculator); with
autoscaling, the range from min to max capacity. Serverless: compute only, per million requests under the stated
assumption (`SERVERLESS_ASSUMPTION`). An instance type or region the table lacks is unknown, never zero. The
endpoint is what a model change moves; the API (Lambda, API Gateway), logs, KMS and S3 are billed per use and left
out, as the comment says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hubdeploy.gitops.plandoc import (
    CONFIG_TYPE,
    UNKNOWN,
    ResourceChange,
    dig,
    variable_value,
    visible_after,
    visible_before,
)
from hubdeploy.infra import prices

HOURS_PER_MONTH = 730
SCALING_TYPE = "aws_appautoscaling_target"
SERVERLESS_REQUESTS = 1_000_000
SERVERLESS_SECONDS_PER_REQUEST = 0.1
SERVERLESS_ASSUMPTION = (
    f"{SERVERLESS_REQUESTS:,} requests a month of {SERVERLESS_SECONDS_PER_REQUEST * 1000:.0f} ms each, compute only"
)
LEFT_OUT = "the endpoint only; Lambda, API Gateway, logs, KMS and S3 are billed per use and not included"


@dataclass(frozen=True)
class Capacity:
    """What one side of the plan runs: instances (count, or min-max with autoscaling) or a serverless variant."""

    instance_type: str | None = None
    low: int | None = None
    high: int | None = None  # == low without autoscaling
    serverless_mb: int | None = None


@dataclass(frozen=True)
class MonthlyCost:
    """USD per month, a range with autoscaling; None where a price is unknown."""

    low: float | None
    high: float | None
    basis: str  # how it was computed, or why it is unknown

    def text(self) -> str:
        if self.low is None or self.high is None:
            return f"unknown ({self.basis})"
        amount = _usd(self.low) if self.low == self.high else f"{_usd(self.low)}-{_usd(self.high)}"
        return f"{amount}/month ({self.basis})"


@dataclass(frozen=True)
class CostChange:
    before: MonthlyCost | None  # None: no endpoint before (a first deploy)
    after: MonthlyCost | None  # None: no endpoint after (a destroy)
    provenance: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostChange:
        def side(value: Any) -> MonthlyCost | None:
            return MonthlyCost(**value) if isinstance(value, dict) else None

        return cls(before=side(data.get("before")), after=side(data.get("after")), provenance=str(data["provenance"]))

    def line(self) -> str:
        """`$41/month (...) → $84/month (...), +$43` for the comment."""
        before = self.before.text() if self.before else "nothing"
        after = self.after.text() if self.after else "nothing (destroyed)"
        if self.before is not None and self.before == self.after:
            return f"{after}, unchanged"
        delta = _delta(self.before, self.after)
        return f"{before} → {after}" + (f", {delta}" if delta else "")


def _usd(amount: float) -> str:
    if amount < 0.005:
        return "$0"
    return f"${amount:,.0f}" if amount >= 10 else f"${amount:,.2f}"


def _delta(before: MonthlyCost | None, after: MonthlyCost | None) -> str | None:
    old_low, old_high = (before.low, before.high) if before else (0.0, 0.0)
    new_low, new_high = (after.low, after.high) if after else (0.0, 0.0)
    if old_low is None or old_high is None or new_low is None or new_high is None:
        return None
    low, high = new_low - old_low, new_high - old_high
    return _signed(low) if abs(low - high) < 0.005 else f"{_signed(low)} to {_signed(high)}"


def _signed(amount: float) -> str:
    return ("+" if amount >= 0 else "-") + _usd(abs(amount))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def capacity_of(config: Any, scaling: Any) -> Capacity | None:
    """A side's capacity from the endpoint configuration's values and the autoscaling target's (None = absent)."""
    if not isinstance(config, dict):
        return None
    variant = dig(config, "production_variants")
    if not isinstance(variant, dict):
        return Capacity()  # (known after apply): unknown
    serverless = dig(variant, "serverless_config")
    if isinstance(serverless, dict) and serverless:
        return Capacity(serverless_mb=_int(serverless.get("memory_size_in_mb")))
    count = _int(variant.get("initial_instance_count"))
    low = high = count
    if isinstance(scaling, dict):
        low, high = _int(scaling.get("min_capacity")), _int(scaling.get("max_capacity"))
    instance_type = variant.get("instance_type")
    return Capacity(instance_type=instance_type if isinstance(instance_type, str) else None, low=low, high=high)


def monthly_cost(capacity: Capacity, region_prices: prices.RegionPrices | None, *, region: str) -> MonthlyCost:
    """The month's price of `capacity` in `region`; unknown (None) when the table lacks the price."""
    if region_prices is None:
        return MonthlyCost(None, None, f"no prices for region {region} in the table: run `hubdeploy prices refresh`")
    if capacity.serverless_mb is not None:
        rate = region_prices.serverless_per_gb_second
        if rate is None:
            return MonthlyCost(None, None, "no serverless price in the table")
        amount = capacity.serverless_mb / 1024 * SERVERLESS_SECONDS_PER_REQUEST * SERVERLESS_REQUESTS * rate
        return MonthlyCost(amount, amount, f"serverless {capacity.serverless_mb} MB, {SERVERLESS_ASSUMPTION}")
    if capacity.instance_type is None or capacity.low is None or capacity.high is None:
        return MonthlyCost(None, None, "instance type or count known only after apply")
    hourly = region_prices.hosting_per_hour.get(capacity.instance_type)
    count = str(capacity.low) if capacity.low == capacity.high else f"{capacity.low}-{capacity.high}"
    scaled = " (autoscaling)" if capacity.low != capacity.high else ""
    if hourly is None:
        return MonthlyCost(
            None, None, f"{count} x {capacity.instance_type}: not in the price table, run `hubdeploy prices refresh`"
        )
    basis = f"{count} x {capacity.instance_type}{scaled} at ${hourly:g}/h x {HOURS_PER_MONTH} h"
    return MonthlyCost(hourly * capacity.low * HOURS_PER_MONTH, hourly * capacity.high * HOURS_PER_MONTH, basis)


def plan_region(plan: Mapping[str, Any]) -> str | None:
    """The region the plan deploys to: the env roots' `aws_region` variable, else the default aws provider's
    `region` as the plan's configuration gives it (a constant, or a reference to a variable)."""
    value = variable_value(plan, "aws_region")
    if not isinstance(value, str):
        provider = ((plan.get("configuration") or {}).get("provider_config") or {}).get("aws") or {}
        expression = (provider.get("expressions") or {}).get("region") or {}
        value = expression.get("constant_value")
        references = expression.get("references") or []
        if value is None and references and str(references[0]).startswith("var."):
            value = variable_value(plan, str(references[0]).removeprefix("var."))
    return value if isinstance(value, str) and value and value != UNKNOWN else None


def estimate(plan: Mapping[str, Any], changes: Iterable[ResourceChange]) -> CostChange | None:
    """Before and after for the plan's endpoint; None when the plan has no endpoint configuration."""
    sides: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    found = False
    for rc in changes:
        if rc.type not in {CONFIG_TYPE, SCALING_TYPE} or rc.type in sides["after"]:
            continue
        found = found or rc.type == CONFIG_TYPE
        sides["before"][rc.type] = visible_before(rc.change)
        sides["after"][rc.type] = visible_after(rc.change) if rc.verb != "delete" else None
    if not found:
        return None
    region = plan_region(plan) or "unknown"
    table = prices.region_prices(region)
    capacities = {name: capacity_of(side.get(CONFIG_TYPE), side.get(SCALING_TYPE)) for name, side in sides.items()}
    costs = {
        name: monthly_cost(capacity, table, region=region) if capacity is not None else None
        for name, capacity in capacities.items()
    }
    serverless = any(capacity is not None and capacity.serverless_mb is not None for capacity in capacities.values())
    provenance = table.provenance(serverless=serverless) if table else f"no prices for {region}"
    return CostChange(before=costs["before"], after=costs["after"], provenance=provenance)
