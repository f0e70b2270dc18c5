"""Summarise a `terraform show -json` plan: action counts, the model old -> new, warnings.

Reads only the plan JSON; every value shown to a reviewer passes through `mask_sensitive` first, so a
value Terraform marks sensitive (before_sensitive / after_sensitive) is never printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from hubdeploy.gitops import cost, supplychain
from hubdeploy.gitops.cost import CostChange
from hubdeploy.gitops.plandoc import (
    CONFIG_TYPE,
    ENDPOINT_TYPE,
    MODEL_TYPE,
    UNKNOWN,
    ResourceChange,
    dig,
    norm_key,
    output_changes,
    resource_changes,
    variable_value,
    visible_after,
    visible_before,
)

ABSENT = "-"

# Replacing these is the normal way a model changes (configs are immutable in SageMaker); anything
# else destroyed or replaced deserves a reviewer's attention.
EXPECTED_REPLACEMENTS = frozenset({MODEL_TYPE, CONFIG_TYPE})

# Rows of the model table, in display order. The supply-chain rows come from the pin's recorded facts, not the
# plan (planfolder fills them in: supplychain.rows).
MODEL_FIELDS: tuple[tuple[str, str], ...] = (
    ("hub_model_id", "Hub model"),
    ("hub_revision", "Revision"),
    *supplychain.FIELDS,
    ("artifact", "Artifact (S3)"),
    ("artifact_sha256", "Artifact sha256"),
    ("model_name", "SageMaker model"),
    ("endpoint_config_name", "Endpoint config"),
    ("instance_type", "Instance type"),
    ("instance_count", "Instance count"),
    ("endpoint_name", "Endpoint"),
)

# Tag / environment keys that carry the model identity, compared after `norm_key` (lowercase, letters and
# digits only), so `hubdeploy:hub-model-id`, `HubModelId` and `HF_MODEL_ID` all match.
_KEYS: dict[str, tuple[str, ...]] = {
    "hub_model_id": ("hubmodelid", "hfmodelid", "hubdeployhubmodelid", "modelid"),
    "hub_revision": ("hubrevision", "hfmodelrevision", "hubdeployhubrevision", "modelrevision", "revision"),
    "artifact_sha256": ("modelartifactsha256", "artifactsha256", "hubdeployartifactsha256", "modelsha256", "sha256"),
}


@dataclass(frozen=True)
class PlanWarning:
    """A resource destroyed or replaced that is not a SageMaker model or endpoint config."""

    address: str
    action: str  # "delete" or "replace"
    reason: str | None = None

    def text(self) -> str:
        verb = "destroyed" if self.action == "delete" else "replaced"
        why = f" ({self.reason.replace('_', ' ')})" if self.reason else ""
        return f"{self.address} will be {verb}{why}"


@dataclass
class PlanSummary:
    """What a reviewer needs from a plan, with no sensitive value in it (safe to upload and print)."""

    add: int = 0
    change: int = 0
    replace: int = 0
    destroy: int = 0
    forget: int = 0
    model: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (old, new)
    warnings: list[PlanWarning] = field(default_factory=list)
    outputs_changed: list[str] = field(default_factory=list)
    errored: bool = False
    capacity_note: str | None = None  # where a new autoscaled configuration starts (capacity_note())
    cost: CostChange | None = None  # the endpoint's monthly cost before -> after (gitops.cost)

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.replace or self.destroy or self.forget or self.outputs_changed)

    def line(self) -> str:
        """`1 to add, 0 to change, 1 to replace, 0 to destroy` (or `No changes.`)."""
        if not self.has_changes:
            return "No changes. Infrastructure matches the configuration."
        text = f"{self.add} to add, {self.change} to change, {self.replace} to replace, {self.destroy} to destroy"
        if self.forget:
            text += f", {self.forget} to forget"
        if not (self.add or self.change or self.replace or self.destroy or self.forget):
            text = "Only outputs change: " + ", ".join(self.outputs_changed)
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = {k: list(v) for k, v in self.model.items()}
        data["cost"] = self.cost.to_json() if self.cost else None
        data["summary_line"] = self.line()
        data["has_changes"] = self.has_changes
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanSummary:
        return cls(
            add=int(data.get("add", 0)),
            change=int(data.get("change", 0)),
            replace=int(data.get("replace", 0)),
            destroy=int(data.get("destroy", 0)),
            forget=int(data.get("forget", 0)),
            model={k: (str(v[0]), str(v[1])) for k, v in (data.get("model") or {}).items()},
            warnings=[PlanWarning(**w) for w in data.get("warnings") or []],
            outputs_changed=list(data.get("outputs_changed") or []),
            errored=bool(data.get("errored", False)),
            capacity_note=data.get("capacity_note") or None,
            cost=CostChange.from_json(data["cost"]) if data.get("cost") else None,
        )


def _lookup(mapping: Any, field_name: str) -> Any:
    """A model-identity value from tags or container environment, by any of the accepted key spellings."""
    if mapping == UNKNOWN:  # the whole map is known only after apply
        return UNKNOWN
    if not isinstance(mapping, dict):
        return None
    normalised = {norm_key(k): v for k, v in mapping.items()}
    for key in _KEYS[field_name]:
        if key in normalised:
            return normalised[key]
    return None


def _model_fields(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    container = dig(values, "primary_container") or dig(values, "container") or {}
    environment = container.get("environment") if isinstance(container, dict) else None
    tags = values.get("tags_all") if isinstance(values.get("tags_all"), dict) else values.get("tags")
    fields: dict[str, Any] = {"model_name": values.get("name")}
    for name in ("hub_model_id", "hub_revision", "artifact_sha256"):
        found = _lookup(tags, name)
        if found is None:
            found = _lookup(environment, name)
        fields[name] = found
    model_data = container.get("model_data_url") if isinstance(container, dict) else None
    if model_data is None and isinstance(container, dict):
        model_data = dig(container, "model_data_source", "s3_data_source", "s3_uri")
    fields["artifact"] = model_data
    return fields


def _config_fields(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    variant = dig(values, "production_variants")
    fields: dict[str, Any] = {"endpoint_config_name": values.get("name")}
    if isinstance(variant, dict):
        serverless = dig(variant, "serverless_config")
        if isinstance(serverless, dict) and serverless:
            fields["instance_type"] = f"serverless {serverless.get('memory_size_in_mb', '?')} MB"
            fields["instance_count"] = f"max concurrency {serverless.get('max_concurrency', '?')}"
        else:
            fields["instance_type"] = variant.get("instance_type")
            fields["instance_count"] = variant.get("initial_instance_count")
    elif variant == UNKNOWN:
        fields["instance_type"] = fields["instance_count"] = UNKNOWN
    return fields


def _endpoint_fields(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    return {"endpoint_name": values.get("name"), "endpoint_config_name_ep": values.get("endpoint_config_name")}


_EXTRACTORS = {MODEL_TYPE: _model_fields, CONFIG_TYPE: _config_fields, ENDPOINT_TYPE: _endpoint_fields}


def _show(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def model_table(changes: Iterable[ResourceChange]) -> dict[str, tuple[str, str]]:
    """field -> (old, new) for the serving chain, from the first model / config / endpoint in the plan.

    A resource replaced with create_before_destroy shows as one change whose `before` is the old object
    and `after` the new one, so old -> new comes straight from before/after.
    """
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    seen: set[str] = set()
    for rc in changes:
        extractor = _EXTRACTORS.get(rc.type)
        if extractor is None or rc.type in seen:
            continue
        seen.add(rc.type)
        before = visible_before(rc.change)
        after = visible_after(rc.change) if rc.verb != "delete" else None
        for key, value in extractor(before).items():
            old.setdefault(key, value)
        for key, value in extractor(after).items():
            new.setdefault(key, value)
    if not seen:
        return {}
    # The endpoint's own view of its config is authoritative when the config resource is missing.
    for side in (old, new):
        if side.get("endpoint_config_name") is None:
            side["endpoint_config_name"] = side.get("endpoint_config_name_ep")
        side.pop("endpoint_config_name_ep", None)
    return {name: (_show(old.get(name)), _show(new.get(name))) for name, _label in MODEL_FIELDS}


def summarize(plan: Mapping[str, Any]) -> PlanSummary:
    """Count actions, build the model table and the warnings of one plan."""
    summary = PlanSummary(errored=bool(plan.get("errored", False)))
    # no-ops too: the model table shows the serving chain even when it does not change
    changes = list(resource_changes(plan, with_noop=True))
    for rc in changes:
        if rc.verb == "create":
            summary.add += 1
        elif rc.verb == "update":
            summary.change += 1
        elif rc.verb == "replace":
            summary.replace += 1
        elif rc.verb == "delete":
            summary.destroy += 1
        elif rc.verb == "forget":
            summary.forget += 1
        if rc.verb in {"delete", "replace"} and rc.type not in EXPECTED_REPLACEMENTS:
            summary.warnings.append(PlanWarning(address=rc.address, action=rc.verb, reason=rc.action_reason))
    summary.model = model_table(changes)
    summary.outputs_changed = list(output_changes(plan))
    summary.capacity_note = capacity_note(plan, changes)
    summary.cost = cost.estimate(plan, changes)
    return summary


def capacity_note(plan: Mapping[str, Any], changes: Iterable[ResourceChange]) -> str | None:
    """When an autoscaled env gets a new endpoint configuration (terraform/modules/sagemaker-endpoint/capacity.tf):
    "the new configuration starts at N instances, the variant's current count (autoscaling MIN-MAX)"."""
    observed = variable_value(plan, "observed_instance_count")
    scaling = variable_value(plan, "autoscaling")
    if observed is None or not isinstance(scaling, dict):
        return None
    for rc in changes:
        if rc.type == CONFIG_TYPE and rc.verb in {"create", "replace"}:
            count = dig(visible_after(rc.change), "production_variants", "initial_instance_count")
            low, high = scaling.get("min_capacity"), scaling.get("max_capacity")
            current = "the variant's current count" if count == observed else f"the variant's {observed}, clamped"
            return f"the new configuration starts at {count} instances, {current} (autoscaling {low}-{high})"
    return None
