"""SageMaker prices: the table committed in the package (`data/prices/sagemaker.json`) and its refresh from the AWS
Price List Query API.

The table holds, per region, the on-demand price per instance-hour of real-time hosting and the serverless compute
price per GB-second, each with where it came from and when (`fetched_at`, `*_source`, `verified`). A price the
table does not have is unknown, never zero. `refresh_region` replaces one region's hosting prices with what the
Price List API returns; nothing is written unless the API answered with at least one price.

Price List API: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html
(GetProducts returns each product as a JSON string with `product.attributes` and
`terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`; the API answers in us-east-1, eu-central-1 and
ap-south-1 only: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/price-list-query-api-endpoints.html).
SageMaker's attribute names are not documented per service (DescribeServices lists them at run time); the ones used
here are those AWS's own tooling filters hosting prices on: productFamily "ML Instance", component "Hosting",
instanceName, regionCode, unit "Hrs" (awslabs/llmeter, llmeter/callbacks/cost/providers/sagemaker.py,
`fetch_sm_hosting_od_price`). The offer also lists Outposts products (locationType other than "AWS Region") whose
prices overwrote the region's in a scraper that did not skip them (vantage-sh/ec2instances.info, sagemaker.py,
issue #644), hence the locationType check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hubdeploy.errors import AwsError, UsageError
from hubdeploy.fsutil import atomic_write_json

SERVICE_CODE = "AmazonSageMaker"
PRICING_API_REGION = "us-east-1"  # the Price List API's own endpoint; it answers for every region
# SageMaker real-time hosting instances in the price list: product family "ML Instance", component "Hosting".
HOSTING_FILTERS: tuple[tuple[str, str], ...] = (("productFamily", "ML Instance"), ("component", "Hosting"))
REGION_LOCATION_TYPE = "AWS Region"  # Outposts products are not what a regional endpoint pays


def default_table_path() -> Path:
    return Path(str(resources.files("hubdeploy") / "data" / "prices" / "sagemaker.json"))


@dataclass(frozen=True)
class RegionPrices:
    """One region's prices and their provenance."""

    region: str
    hosting_per_hour: Mapping[str, float]
    serverless_per_gb_second: float | None
    fetched_at: str | None  # ISO date of the Price List API read; None when typed by hand
    verified: bool  # hosting prices read from the Price List API (True) or typed from the pricing page (False)
    hosting_source: str
    serverless_source: str
    typed_on: str | None = None  # ISO date hand-typed prices were entered (not the date AWS set them)
    serverless_verified: bool = False  # `refresh` reads hosting only: typed serverless prices stay unverified

    def provenance(self, *, serverless: bool = False) -> str:
        """One line for a reviewer: where the prices come from and how fresh they are.

        Args:
            serverless: the estimate used the serverless price: say where that one comes from too.
        """
        typed = f"typed {self.typed_on}" if self.typed_on else "typed (date not recorded)"
        if self.verified and self.fetched_at:
            line = f"AWS Price List API, {self.region}, read {self.fetched_at}"
        else:
            line = (
                f"{self.region}, {typed} from the SageMaker pricing page, UNVERIFIED (run `hubdeploy prices refresh`)"
            )
        if serverless and self.serverless_per_gb_second is not None and not self.serverless_verified:
            line += (
                f"; serverless price {typed} from the pricing page, UNVERIFIED (`prices refresh` reads hosting only)"
            )
        return line


def read_table(path: Path | None = None) -> dict[str, Any]:
    path = path or default_table_path()
    try:
        table = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the price table {path} ({exc})", hint="restore it from git") from None
    if not isinstance(table, dict) or not isinstance(table.get("regions"), dict):
        raise UsageError(f'the price table {path} has no "regions" object', hint="restore it from git")
    return table


def region_prices(region: str, *, path: Path | None = None) -> RegionPrices | None:
    """The table's prices for `region`, or None when the table has none for it."""
    entry = read_table(path)["regions"].get(region)
    if not isinstance(entry, dict):
        return None
    hosting = entry.get("hosting_per_hour") or {}
    serverless = entry.get("serverless_per_gb_second")
    return RegionPrices(
        region=region,
        hosting_per_hour={str(k): float(v) for k, v in hosting.items()},
        serverless_per_gb_second=float(serverless) if serverless is not None else None,
        fetched_at=entry.get("fetched_at"),
        verified=bool(entry.get("verified")),
        hosting_source=str(entry.get("hosting_source", "")),
        serverless_source=str(entry.get("serverless_source", "")),
        typed_on=entry.get("typed_on"),
        serverless_verified=bool(entry.get("serverless_verified")),
    )


def hosting_prices_from_price_list(price_list: Iterable[str], *, region: str) -> dict[str, float]:
    """instance type -> USD per hour, from GetProducts' PriceList items (JSON strings), on-demand terms only.

    An instance with two different hourly prices is refused: the table must never pick one silently.
    """
    prices: dict[str, float] = {}
    for raw in price_list:
        item = json.loads(raw) if isinstance(raw, str) else raw
        attributes = item.get("product", {}).get("attributes", {})
        # instanceType carries a suffix in some SKUs ("ml.g5.xlarge-Hosting"); instanceName is the bare type
        instance = attributes.get("instanceName") or str(attributes.get("instanceType", "")).split("-")[0]
        if not instance or attributes.get("regionCode", region) != region:
            continue
        if attributes.get("locationType", REGION_LOCATION_TYPE) != REGION_LOCATION_TYPE:
            continue  # an Outposts product of the same region and instance type
        for offer in (item.get("terms", {}).get("OnDemand") or {}).values():
            for dimension in (offer.get("priceDimensions") or {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is None or str(dimension.get("unit", "")).lower() not in {"hrs", "hours", "hour"}:
                    continue
                price = float(usd)
                if price == 0:
                    continue  # free-tier and placeholder dimensions
                if instance in prices and prices[instance] != price:
                    raise AwsError(
                        f"the Price List API gives {instance} in {region} two hourly prices "
                        f"({prices[instance]} and {price})",
                        hint="check the product list by hand; the price table was not changed",
                    )
                prices[instance] = price
    return prices


def fetch_hosting_prices(client: Any, *, region: str) -> dict[str, float]:
    """Page through GetProducts for SageMaker hosting instances in `region`."""
    from hubdeploy.infra.aws import aws_errors

    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in HOSTING_FILTERS]
    items: list[str] = []
    with aws_errors("read SageMaker prices from the AWS Price List API (pricing:GetProducts)"):
        for page in client.get_paginator("get_products").paginate(
            ServiceCode=SERVICE_CODE, Filters=filters, FormatVersion="aws_v1"
        ):
            items.extend(page.get("PriceList") or [])
    return hosting_prices_from_price_list(items, region=region)


def refresh_region(
    client: Any, *, region: str, path: Path | None = None, today: dt.date | None = None
) -> tuple[int, Path]:
    """Replace `region`'s hosting prices in the table with the Price List API's; returns (count, table path).

    Serverless prices are kept as they are, with their own source line (the query here reads hosting only).
    """
    path = path or default_table_path()
    table = read_table(path)
    prices = fetch_hosting_prices(client, region=region)
    if not prices:
        raise AwsError(
            f"the Price List API returned no SageMaker hosting prices for {region}",
            hint="check the region code (e.g. us-east-1); the price table was not changed",
        )
    entry = dict(table["regions"].get(region) or {})
    entry.update(
        hosting_per_hour=dict(sorted(prices.items())),
        fetched_at=(today or dt.datetime.now(dt.UTC).date()).isoformat(),
        verified=True,
        hosting_source=f"AWS Price List API: GetProducts {SERVICE_CODE}, regionCode={region}, "
        + ", ".join(f"{field}={value}" for field, value in HOSTING_FILTERS)
        + ", on-demand",
    )
    entry.setdefault("serverless_per_gb_second", None)
    entry.setdefault("serverless_source", "not in the table")
    table["regions"] = dict(sorted({**table["regions"], region: dict(sorted(entry.items()))}.items()))
    atomic_write_json(path, table)
    return len(prices), path
