"""A normalized plan hash: the same inputs planned twice give the same hash; any change a reviewer would
care about (an action, an address, a planned value) gives another.

The PR comment and the plan artifact record it; at merge the deploy job re-plans and refuses to apply
when the hash differs from the reviewed one (the state or the inputs moved since the review).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from hubdeploy.errors import PlanChangedError, UsageError
from hubdeploy.gitops.plandoc import UNKNOWN, norm_key, output_changes, planned_after, resource_changes
from hubdeploy.infra.envroot import OBSERVED_COUNT_VARIABLE

HASH_VERSION = "v1"
# Attributes that change on every plan or apply without anyone changing the inputs.
VOLATILE_ATTRIBUTES = frozenset(
    {
        "creation_time",
        "created_date",
        "created_time",
        "creation_date",
        "last_modified",
        "last_modified_time",
        "last_updated",
        "last_updated_date",
        "timestamp",
        "rfc3339",
        "unix",
    }
)
# Tag keys whose values are run metadata, not desired state: a PR is planned at its merge ref and
# deployed from the merge commit on main, so a commit tag differs between the two by design.
VOLATILE_TAG_WORDS = ("commit", "timestamp", "deployedat", "runid", "runurl")
# The endpoint variant's instance count read at plan time (hubdeploy.infra.envroot passes it). Autoscaling
# moves it between the PR plan and the deploy plan, so a new configuration's initial count that equals it
# is hashed as this token: the reviewed plan is "start where the endpoint is". A count that differs from
# it (instance_count changed in an env without autoscaling, a clamp to min..max) is hashed as the number.
OBSERVED = "(the variant's current instance count)"
# Where the planned count appears: the configuration's variants and the capacity holder (capacity.tf).
_COUNT_KEYS = {"aws_sagemaker_endpoint_configuration": "initial_instance_count", "terraform_data": "input"}


def _strip(value: Any, *, in_tags: bool = False) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE_ATTRIBUTES:
                continue
            if in_tags and any(word in norm_key(key) for word in VOLATILE_TAG_WORDS):
                continue
            out[key] = _strip(item, in_tags=key in {"tags", "tags_all"})
        return out
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def _observed(plan: Mapping[str, Any]) -> Any:
    """The observed instance count passed to this plan, or None."""
    variable = (plan.get("variables") or {}).get(OBSERVED_COUNT_VARIABLE)
    return variable.get("value") if isinstance(variable, dict) else None


def _tokenize_count(resource_type: str, address: str, after: Any, observed: Any) -> Any:
    """`after` with an initial instance count equal to `observed` replaced by the OBSERVED token."""
    key = _COUNT_KEYS.get(resource_type)
    if observed is None or key is None or not isinstance(after, dict):
        return after
    if resource_type == "terraform_data":
        if address.split(".")[-1].startswith("initial_instance_count") and after.get(key) == observed:
            return {**after, key: OBSERVED, "output": OBSERVED}
        return after
    variants = after.get("production_variants")
    if not isinstance(variants, list):
        return after
    tokenized = [{**v, key: OBSERVED} if isinstance(v, dict) and v.get(key) == observed else v for v in variants]
    return {**after, "production_variants": tokenized}


def normalize(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a plan that define what apply will do, in a canonical form."""
    observed = _observed(plan)
    # untouched resources are left out: their refreshed attributes are not part of the change
    resources = [
        {
            "address": rc.address,
            "action": rc.verb,
            "after": _strip(
                None
                if rc.verb == "delete"
                else _tokenize_count(rc.type, rc.address, planned_after(rc.change), observed)
            ),
        }
        for rc in resource_changes(plan)
    ]
    resources.sort(key=lambda item: str(item["address"]))
    return {"version": HASH_VERSION, "resources": resources, "outputs": output_changes(plan), "unknown": UNKNOWN}


def plan_hash(plan: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the normalized plan."""
    canonical = json.dumps(normalize(plan), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def check_hash(value: str) -> str:
    """Validate a hash typed by a user or read from a comment."""
    digest = value.removeprefix("sha256:")
    if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
        raise UsageError(f"{value!r} is not a plan hash", hint="expected sha256:<64 hex>, as printed by hubdeploy plan")
    return "sha256:" + digest


def compare(*, env: str, reviewed: str, current: str) -> None:
    """Raise unless the plan about to be applied is the one that was reviewed."""
    if check_hash(reviewed) != check_hash(current):
        raise PlanChangedError(
            f"{env}: the plan now differs from the one reviewed on the PR "
            f"(reviewed {reviewed[:19]}…, now {current[:19]}…); refusing to apply",
            hint="something changed since the review (another merge, drift, new inputs): re-run the PR "
            "workflow or open a new PR so the new plan is reviewed",
        )
