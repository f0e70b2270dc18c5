"""A normalized plan hash: the same inputs planned twice give the same hash; any change a reviewer would
care about (an action, an address, a planned value) gives another.

The PR comment and the plan artifact record it; at merge the deploy job re-plans and refuses to apply
when the hash differs from the reviewed one (the state or the inputs moved since the review).

Per-change digests (`change_record`) record each change on its own, normalized the same way, so a re-run
after a failed or partial apply can be accepted when every change left is one the reviewed plan made
(`converge`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hubdeploy.errors import PlanChangedError, UsageError
from hubdeploy.gitops.plandoc import (
    CONFIG_TYPE,
    NOT_CHANGES,
    UNKNOWN,
    ResourceChange,
    classify,
    norm_key,
    output_changes,
    planned_after,
    resource_changes,
    variable_value,
)
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
_COUNT_KEYS = {CONFIG_TYPE: "initial_instance_count", "terraform_data": "input"}


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
    return variable_value(plan, OBSERVED_COUNT_VARIABLE)


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


def _normalized_after(rc: ResourceChange, observed: Any) -> Any:
    """A change's planned values as the hash sees them (None for a delete)."""
    if rc.verb == "delete":
        return None
    return _strip(_tokenize_count(rc.type, rc.address, planned_after(rc.change), observed))


def normalize(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a plan that define what apply will do, in a canonical form."""
    observed = _observed(plan)
    # untouched resources are left out: their refreshed attributes are not part of the change
    resources = [
        {"address": rc.address, "action": rc.verb, "after": _normalized_after(rc, observed)}
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


# -- per-change digests: what a re-run after a failed or partial apply may still apply ---------------------

RECORD_VERSION = 1
DIGEST_CHARS = 32  # 128 bits of sha256: far beyond any accidental or crafted collision worth the effort
DEPOSED = " (deposed)"  # key suffix of a deposed object's delete (an older object left by a failed replace)
# Actions the re-plan may show for a change the reviewed plan made: a replace whose old object is already
# gone (destroy-then-create failed after the destroy) is left as a create.
_LEFT_OF = {"replace": frozenset({"replace", "create"})}
KeyPath = tuple[str | int, ...]  # keys and list indexes into planned values


@dataclass(frozen=True)
class Change:
    """One change of a plan: its action and a digest of its normalized planned values.

    `unknown` lists where the planned values were "known after apply": a re-plan after a partial apply knows
    them (the config the failed apply created), and may hold any value there. `after` is kept in memory
    only, never serialized: it holds sensitive values in clear.
    """

    action: str
    digest: str
    unknown: tuple[KeyPath, ...] = ()
    after: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ChangeRecord:
    """Every change of one plan by key (address, or address + DEPOSED), and its changed outputs."""

    changes: dict[str, Change]
    outputs: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The serializable form (summary.json, the PR comment): no planned value, only digests."""
        return {
            "version": RECORD_VERSION,
            "changes": {
                key: [c.action, c.digest, [list(p) for p in c.unknown]] for key, c in sorted(self.changes.items())
            },
            "outputs": dict(sorted(self.outputs.items())),
        }

    @classmethod
    def from_json(cls, data: Any) -> ChangeRecord | None:
        """The record back from `to_json`, or None for anything else (an old folder, a mangled comment)."""
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return None
        try:
            changes = {
                str(key): Change(
                    action=str(item[0]),
                    digest=str(item[1]),
                    unknown=tuple(tuple(step for step in p if isinstance(step, str | int)) for p in item[2]),
                )
                for key, item in (data.get("changes") or {}).items()
            }
            outputs = {str(k): str(v) for k, v in (data.get("outputs") or {}).items()}
        except (TypeError, IndexError, AttributeError):
            return None
        return cls(changes=changes, outputs=outputs)

    def encode(self) -> str:
        """A compact form safe inside an HTML comment: base64url of deflated JSON (addresses can hold `-->`)."""
        raw = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> ChangeRecord | None:
        """`encode`'s text back, or None when it is not one."""
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            return cls.from_json(json.loads(raw))
        except (ValueError, zlib.error):
            return None


def _digest(after: Any) -> str:
    canonical = json.dumps(after, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]


def _unknown_paths(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """Where `value` (normalized planned values) holds the UNKNOWN marker."""
    if value == UNKNOWN:
        yield path
    elif isinstance(value, dict):
        for key in sorted(value):
            yield from _unknown_paths(value[key], (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unknown_paths(item, (*path, index))


def _mask(value: Any, path: KeyPath) -> Any:
    """`value` with UNKNOWN at `path` (a copy). A list index that does not exist is left alone, so the
    digest then differs: the change has another shape than the reviewed one."""
    if not path:
        return UNKNOWN
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, str):
        return {**value, head: _mask(value.get(head), rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        return [*value[:head], _mask(value[head], rest), *value[head + 1 :]]
    return value


def _keyed_changes(plan: Mapping[str, Any]) -> Iterator[tuple[str, ResourceChange]]:
    """The plan's managed-resource changes (as `resource_changes`), keyed; a deposed object by its base address."""
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        verb = classify(change.get("actions") or [])
        if verb in NOT_CHANGES:
            continue
        address = str(rc.get("address", "?"))
        key = address + DEPOSED if rc.get("deposed") else address
        yield key, ResourceChange(address=address, type=str(rc.get("type", "")), verb=verb, change=change)


def change_record(plan: Mapping[str, Any]) -> ChangeRecord:
    """Per-change digests of a plan: address -> action + digest of the planned values, normalized as in
    `plan_hash` (volatile attributes and run-metadata tags dropped, the observed instance count tokenized)."""
    observed = _observed(plan)
    changes: dict[str, Change] = {}
    for key, rc in _keyed_changes(plan):
        after = _normalized_after(rc, observed)
        if key in changes:  # several deposed objects at one address: one "delete what is deposed there"
            continue
        changes[key] = Change(action=rc.verb, digest=_digest(after), unknown=tuple(_unknown_paths(after)), after=after)
    return ChangeRecord(changes=changes, outputs=output_changes(plan))


def converge(reviewed: ChangeRecord, current: ChangeRecord) -> list[str]:
    """Why `current` is not what is left of `reviewed`: one line per change it does not cover (empty: it is).

    A change of `current` is covered when the reviewed plan made it: same address, same action (or a create
    left of a replace), same planned values, where a value the reviewed plan knew only after apply may now
    be anything. A deposed object's delete is covered when the reviewed plan deleted or replaced that address.
    Without the planned values in memory (a record read back from a file) digests are compared as they are.
    """
    problems: list[str] = []
    for key, change in sorted(current.changes.items()):
        if key.endswith(DEPOSED):
            base = reviewed.changes.get(key.removesuffix(DEPOSED))
            if key in reviewed.changes or (base is not None and base.action in {"replace", "delete"}):
                continue
            problems.append(f"{key}: delete, which the reviewed plan does not do")
            continue
        old = reviewed.changes.get(key)
        if old is None:
            problems.append(f"{key}: {change.action}, not in the reviewed plan")
            continue
        if change.action != old.action and change.action not in _LEFT_OF.get(old.action, frozenset()):
            problems.append(f"{key}: {change.action} now, {old.action} in the reviewed plan")
            continue
        digest = change.digest
        if old.unknown and change.after is not None:  # planned values in memory: mask what was unknown
            masked = change.after
            for path in old.unknown:
                masked = _mask(masked, path)
            digest = _digest(masked)
        if digest != old.digest:
            problems.append(f"{key}: planned values differ from the reviewed plan")
    for name, verb in sorted(current.outputs.items()):
        if name not in reviewed.outputs:
            problems.append(f"output {name}: {verb}, not in the reviewed plan")
    return problems


def differences(reviewed: ChangeRecord, current: ChangeRecord) -> list[str]:
    """Every way `current` differs from `reviewed`, both directions (for a reviewer: what to look at)."""
    problems = converge(reviewed, current)
    covered = {key.removesuffix(DEPOSED) for key in current.changes}
    for key, change in sorted(reviewed.changes.items()):
        if key.removesuffix(DEPOSED) not in covered:
            problems.append(f"{key}: {change.action} in the reviewed plan, no longer planned")
    return problems
