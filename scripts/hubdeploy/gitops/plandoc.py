"""Reading a `terraform show -json` plan document: the one normalisation the summary and the hash share.

- `resource_changes` / `output_changes`: what apply will do, as one verb per managed resource or output
  (data source reads and no-ops are not changes a reviewer approves);
- `classify`: Terraform's action list -> one verb, a create-before-destroy pair counted as one replace;
- `mark_unknown` / `mask_sensitive`: values as a reviewer may see them (unknowns marked, secrets masked);
- `norm_key`: tag and environment keys compared in one spelling;
- `dig` / `variable_value`: a value inside a resource's values (through one-element block lists), a root variable;
- the SageMaker resource types the summary, the hash and the cost read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

UNKNOWN = "(known after apply)"
SENSITIVE = "(sensitive value)"
NOT_CHANGES = frozenset({"no-op", "read"})
MODEL_TYPE = "aws_sagemaker_model"
CONFIG_TYPE = "aws_sagemaker_endpoint_configuration"
ENDPOINT_TYPE = "aws_sagemaker_endpoint"


def dig(values: Any, *path: str | int) -> Any:
    """Walk dicts and Terraform's one-element block lists: dig(v, "production_variants", "instance_type")."""
    cur = values
    for step in path:
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if isinstance(step, int):
            cur = cur[step] if isinstance(cur, list) and len(cur) > step else None
        elif isinstance(cur, dict):
            cur = cur.get(step)
        else:
            return None
    if isinstance(cur, list):  # a block list (max_items = 1 for everything we read): its one block
        cur = cur[0] if cur else None
    return cur


def variable_value(plan: Mapping[str, Any], name: str) -> Any:
    """The value a root variable had in this plan, or None."""
    variable = (plan.get("variables") or {}).get(name)
    return variable.get("value") if isinstance(variable, dict) else None


def norm_key(key: str) -> str:
    """`hubdeploy:hub-model-id`, `HubModelId` and `HF_MODEL_ID` spelled alike: lowercase letters and digits."""
    return "".join(ch for ch in key.lower() if ch.isalnum())


def classify(actions: Iterable[str]) -> str:
    """Terraform's action list -> one verb: create, update, replace, delete, read, forget or no-op.

    Both ["delete", "create"] and ["create", "delete"] (create_before_destroy) are one replace.
    """
    acts = list(actions)
    if "create" in acts and "delete" in acts:
        return "replace"
    if len(acts) == 1 and acts[0] in {"create", "update", "delete", "read", "no-op", "forget"}:
        return acts[0]
    return "+".join(acts) or "no-op"


@dataclass(frozen=True)
class ResourceChange:
    """One managed resource's planned change."""

    address: str
    type: str
    verb: str  # classify()'s verb
    change: Mapping[str, Any]  # Terraform's `change` object: before/after, *_unknown, *_sensitive
    action_reason: str | None = None


def resource_changes(plan: Mapping[str, Any], *, with_noop: bool = False) -> Iterator[ResourceChange]:
    """The plan's managed-resource changes, in plan order; no-ops and reads only `with_noop`."""
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed":
            continue  # data source reads are not changes a reviewer approves
        change = rc.get("change") or {}
        verb = classify(change.get("actions") or [])
        if verb in NOT_CHANGES and not with_noop:
            continue
        yield ResourceChange(
            address=str(rc.get("address", "?")),
            type=str(rc.get("type", "")),
            verb=verb,
            change=change,
            action_reason=rc.get("action_reason"),
        )


def output_changes(plan: Mapping[str, Any]) -> dict[str, str]:
    """`{output name: verb}` of every root output the plan changes, sorted by name."""
    verbs = {name: classify(out.get("actions") or []) for name, out in (plan.get("output_changes") or {}).items()}
    return {name: verbs[name] for name in sorted(verbs) if verbs[name] not in NOT_CHANGES}


def mask_sensitive(value: Any, sensitive: Any) -> Any:
    """`value` with every part that `sensitive` (Terraform's *_sensitive mirror) flags replaced."""
    if sensitive is True:
        return SENSITIVE if value is not None else None
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: mask_sensitive(v, sensitive.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [mask_sensitive(v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)]
    return value


def mark_unknown(value: Any, unknown: Any) -> Any:
    """`value` with every part `after_unknown` flags set to UNKNOWN (the plan JSON leaves them out)."""
    if unknown is True:
        return UNKNOWN
    if isinstance(unknown, dict):
        base = dict(value) if isinstance(value, dict) else {}
        for key, flag in unknown.items():
            base[key] = mark_unknown(base.get(key), flag)
        return base
    if isinstance(unknown, list):
        base_list = list(value) if isinstance(value, list) else []
        base_list += [None] * (len(unknown) - len(base_list))
        return [mark_unknown(base_list[i], flag) for i, flag in enumerate(unknown)]
    return value


def planned_after(change: Mapping[str, Any]) -> Any:
    """The planned values with every unknown part marked (secrets still in clear: never print this)."""
    return mark_unknown(change.get("after"), change.get("after_unknown"))


def visible_before(change: Mapping[str, Any]) -> Any:
    """The prior values a reviewer may see."""
    return mask_sensitive(change.get("before"), change.get("before_sensitive"))


def visible_after(change: Mapping[str, Any]) -> Any:
    """The planned values a reviewer may see: sensitive parts masked, unknown parts marked."""
    return mask_sensitive(planned_after(change), change.get("after_sensitive"))
