"""Drift: changes made to an env outside Terraform, told apart from changes merged but not applied yet.

`hubdeploy drift` makes two speculative (lock-free) plans of the deployed env:

- a refresh-only plan (`terraform plan -refresh-only`): its `resource_drift` lists every resource whose
  real state differs from the state the last apply wrote, with `before` (last apply) and `after` (what
  AWS has now) (https://developer.hashicorp.com/terraform/internals/json-format#plan-representation);
- a normal plan: what an apply of the checked-out code would change now.

A drifted attribute is drift when the code manages it: the normal plan would set it back (or the resource is
gone and the plan re-creates it). What the refresh alone reports besides (values AWS computes, such as the
attributes another resource fills in, or null read back as an empty list) is noise, and is only counted.
Changes of the normal plan that do not undo drift are *undeployed changes*: merged, not applied yet (a
deploy waiting for approval, a failed apply). They are listed in the report, never opening a drift issue.

One GitHub issue per env carries the drift (label `drift`): opened, updated by later runs, closed when only
undeployed changes (or nothing) remain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from hubdeploy.gitops.comment import GITHUB_COMMENT_LIMIT, marker, status_block
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.plandoc import ResourceChange, mask_sensitive, resource_changes

WORKFLOW = "drift"
LABEL = "drift"
REFRESH_ONLY_DIR = "refresh-only"  # the refresh-only plan folder, inside the drift command's --out
REPORT_FILE = "drift.json"
MAX_ROWS = 40  # per table in the issue: the rest is counted, the job summary and drift.json have all
MAX_VALUE = 60  # characters of a value shown in a table cell
EMPTY: tuple[Any, ...] = (None, "", [], {})  # what a provider may read back for an unset attribute


@dataclass(frozen=True)
class AttributeChange:
    """One drifted attribute (a dotted path: `memory_size`, `tags.team`), its values masked for display."""

    path: str
    before: str
    after: str


@dataclass(frozen=True)
class Drifted:
    """A resource changed (or deleted) outside Terraform."""

    address: str
    action: str  # "changed" or "deleted"
    attributes: tuple[AttributeChange, ...] = ()


@dataclass(frozen=True)
class Undeployed:
    """A change the code makes that is not on AWS yet."""

    address: str
    verb: str  # create, update, replace, delete, ...


@dataclass(frozen=True)
class DriftReport:
    """What the two plans say about an env."""

    env: str
    drifted: tuple[Drifted, ...] = ()
    undeployed: tuple[Undeployed, ...] = ()
    ignored: tuple[str, ...] = ()  # addresses whose refreshed differences the code does not manage
    commit: str = "unknown"
    plan_hash: str = ""  # of the normal plan (what a deploy of this commit would apply)
    refresh_text: str = field(default="", repr=False)  # `terraform show` of the refresh-only plan

    @property
    def has_drift(self) -> bool:
        return bool(self.drifted)

    def line(self) -> str:
        """One line: the drift, then the undeployed changes."""
        if self.drifted:
            names = ", ".join(f"{d.address} ({_attribute_names(d)})" for d in self.drifted[:5])
            more = f" and {len(self.drifted) - 5} more" if len(self.drifted) > 5 else ""
            drift = f"DRIFT: {_count(len(self.drifted), 'resource')} changed outside Terraform: {names}{more}"
        else:
            drift = "no drift"
        if not self.undeployed:
            return f"{drift}; no undeployed changes"
        return f"{drift}; {_count(len(self.undeployed), 'undeployed change')} (merged, not applied yet)"

    def to_json(self) -> dict[str, Any]:
        """drift.json: no secret in it (values masked), so it is safe to upload."""
        data = asdict(self)
        data.pop("refresh_text")
        data["has_drift"] = self.has_drift
        return data


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _attribute_names(drifted: Drifted) -> str:
    if drifted.action == "deleted":
        return "deleted"
    return ", ".join(dict.fromkeys(a.path.split(".")[0] for a in drifted.attributes)) or "changed"


# ---------------------------------------------------------------------------------------------------------------------
# Reading the plans


def _same(a: Any, b: Any) -> bool:
    """Equal, counting every spelling of "unset" (null, "", [], {}) as one."""
    if a in EMPTY and b in EMPTY:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _at(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _shown(value: Any) -> str:
    if value in EMPTY:
        return "-"
    if isinstance(value, dict | list):
        return "(changed)"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def changed_paths(before: Any, after: Any, *, depth: int = 2, prefix: str = "") -> Iterator[str]:
    """Dotted paths (top-level attributes, then map keys down to `depth`) where `before` and `after` differ."""
    if _same(before, after):
        return
    maps = isinstance(before, dict | None) and isinstance(after, dict | None)
    if depth > 0 and maps and (isinstance(before, dict) or isinstance(after, dict)):
        b, a = before or {}, after or {}
        for key in sorted(set(b) | set(a)):
            yield from changed_paths(b.get(key), a.get(key), depth=depth - 1, prefix=f"{prefix}{key}.")
        return
    yield prefix.rstrip(".")


def _visible(change: Mapping[str, Any], side: str) -> Any:
    return mask_sensitive(change.get(side), change.get(f"{side}_sensitive"))


def _attribute(change: Mapping[str, Any], path: str) -> AttributeChange:
    before, after = _visible(change, "before"), _visible(change, "after")
    for key in path.split("."):
        before, after = _at(before, key), _at(after, key)
    return AttributeChange(path=path, before=_shown(before), after=_shown(after))


def _known_changes(change: Mapping[str, Any]) -> set[str]:
    """Top-level attributes a normal plan's update sets to a known, different value (what it would undo)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return {
        name
        for name in set(before) | set(after)
        if unknown.get(name) is not True and not _same(before.get(name), after.get(name))
    }


def _managed(entries: Any) -> Iterator[Mapping[str, Any]]:
    for entry in entries or []:
        if entry.get("mode", "managed") == "managed":
            yield entry


def analyse(
    refresh_doc: Mapping[str, Any],
    plan_doc: Mapping[str, Any],
    *,
    env: str,
    commit: str = "unknown",
    plan_hash: str = "",
    refresh_text: str = "",
) -> DriftReport:
    """Drift and undeployed changes from `terraform show -json` of a refresh-only plan and of a normal plan.

    A drifted attribute counts when the normal plan would change it back (the code manages it); a resource
    deleted outside Terraform always counts. A normal-plan change that only undoes drift is not an
    undeployed change.
    """
    planned = {rc.address: rc for rc in resource_changes(plan_doc)}
    drifted: list[Drifted] = []
    ignored: list[str] = []
    undone: dict[str, set[str] | None] = {}  # address -> attributes the normal plan undoes (None: re-creates)
    for entry in _managed(refresh_doc.get("resource_drift")):
        address = str(entry.get("address", "?"))
        change = entry.get("change") or {}
        if "delete" in (change.get("actions") or []):
            drifted.append(Drifted(address, "deleted"))
            undone[address] = None
            continue
        paths = list(changed_paths(change.get("before"), change.get("after")))
        normal = planned.get(address)
        # what the code sets to another known value (values AWS computes are unknown in the plan: not counted)
        managed = normal is not None and normal.verb in ("update", "replace")
        reverted = _known_changes(normal.change) if normal is not None and managed else set()
        kept = [p for p in paths if p.split(".")[0] in reverted]
        if kept:
            drifted.append(Drifted(address, "changed", tuple(_attribute(change, p) for p in kept)))
            undone[address] = {p.split(".")[0] for p in kept}
        else:
            ignored.append(address)
    undeployed = [Undeployed(rc.address, rc.verb) for rc in planned.values() if not _only_undoes(rc, undone)]
    return DriftReport(
        env=env,
        drifted=tuple(drifted),
        undeployed=tuple(undeployed),
        ignored=tuple(ignored),
        commit=commit,
        plan_hash=plan_hash,
        refresh_text=refresh_text,
    )


def _only_undoes(rc: ResourceChange, undone: Mapping[str, set[str] | None]) -> bool:
    """True when a normal-plan change does nothing but undo the drift of its resource."""
    if rc.address not in undone:
        return False
    attributes = undone[rc.address]
    if attributes is None:  # deleted outside Terraform: re-creating it undoes that
        return rc.verb == "create"
    return rc.verb == "update" and _known_changes(rc.change) <= attributes


# ---------------------------------------------------------------------------------------------------------------------
# Markdown


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _drift_table(report: DriftReport, *, rows: int) -> str:
    lines = ["| Resource | Outside Terraform | Attribute: last apply → now |", "|---|---|---|"]
    for item in report.drifted[:rows]:
        cells = "<br>".join(f"{_code(a.path)}: {_code(a.before)} → {_code(a.after)}" for a in item.attributes)
        lines.append(f"| {_code(item.address)} | {item.action} | {cells or '-'} |")
    if len(report.drifted) > rows:
        lines.append(f"| … and {len(report.drifted) - rows} more | | |")
    return "\n".join(lines)


def _undeployed_table(report: DriftReport, *, rows: int) -> str:
    lines = ["| Resource | Action |", "|---|---|"]
    lines += [f"| {_code(u.address)} | {u.verb} |" for u in report.undeployed[:rows]]
    if len(report.undeployed) > rows:
        lines.append(f"| … and {len(report.undeployed) - rows} more | |")
    return "\n".join(lines)


def _sections(report: DriftReport, *, rows: int) -> list[str]:
    parts: list[str] = []
    if report.drifted:
        parts += [
            f"**Changed outside Terraform** ({_count(len(report.drifted), 'resource')}; refresh-only plan): "
            "AWS no longer matches the last apply. The next apply sets these back to what the code says; "
            "if the change outside was wanted, put it in the code.",
            _drift_table(report, rows=rows),
        ]
    else:
        parts.append("**No drift**: AWS matches the last apply (refresh-only plan).")
    if report.undeployed:
        parts += [
            f"**Undeployed changes (merged, not applied yet)** ({_count(len(report.undeployed), 'change')}): what "
            "a deploy of this commit would change, e.g. a merge waiting for the environment's approval. Not drift.",
            _undeployed_table(report, rows=rows),
        ]
    else:
        parts.append("**No undeployed changes**: the code is deployed.")
    if report.ignored:
        parts.append(
            f"_Not drift: {_count(len(report.ignored), 'resource')} whose refreshed differences are values AWS "
            "computes or another resource sets (the code does not manage them)._"
        )
    return parts


def _details(text: str, *, budget: int, title: str = "Refresh-only plan") -> str:
    """A plan's text, collapsed, cut on a line boundary to `budget` characters."""
    body = text.strip("\n")
    # a fence longer than any backtick run in the plan, so the plan can never close it early
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    lines = body.splitlines()
    opening = f"<details><summary>{title} ({len(lines)} lines)</summary>\n\n{fence}text\n"
    closing = f"\n{fence}\n\n</details>"
    room = budget - len(opening) - len(closing) - 80
    if len(body) > room:
        kept = body[: max(room, 0)]
        kept = kept[: kept.rfind("\n")] if "\n" in kept else ""
        return f"{opening}{kept}{closing}\n\n> ✂️ Cut: run `hubdeploy drift` (or see the run's job summary) for more."
    return opening + body + closing


def _foot(report: DriftReport, run_url: str | None) -> str:
    link = f" · [workflow run]({run_url})" if run_url else ""
    return f"Commit `{report.commit[:12]}`{link}"


def render_issue(report: DriftReport, *, run_url: str | None, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The drift issue's body: marker, status, drift, undeployed changes, the refresh-only plan (collapsed)."""
    head = "\n\n".join(
        [
            marker(report.env, WORKFLOW),
            f"### Drift in `{report.env}`",
            status_block("drift detected", run_url=run_url),
            *_sections(report, rows=MAX_ROWS),
        ]
    )
    foot = _foot(report, run_url)
    budget = limit - len(head) - len(foot) - 200  # margin: GitHub counts some characters twice
    return "\n\n".join([head, _details(report.refresh_text, budget=budget), foot]) + "\n"


def render_summary(report: DriftReport, *, run_url: str | None, plan_text: str = "") -> str:
    """The job summary: every drifted resource and undeployed change, the refresh-only plan, and the normal
    plan (`plan_text`) when there are undeployed changes (under GitHub's 1 MiB step summary limit)."""
    rows = max(len(report.drifted), len(report.undeployed), 1)
    parts = [f"### Drift check of `{report.env}`", *_sections(report, rows=rows)]
    parts.append(_details(report.refresh_text, budget=450_000))
    if report.undeployed and plan_text:
        parts.append(_details(plan_text, budget=450_000, title="Plan of the undeployed changes"))
    parts.append(_foot(report, run_url))
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------------------------------
# The issue


def sync_issue(client: GitHubClient, report: DriftReport, *, label: str, run_url: str | None) -> str:
    """Open/update the env's drift issue when there is drift; close it when not (undeployed changes alone are
    not drift). Returns what happened."""
    mark = marker(report.env, WORKFLOW)
    if report.has_drift:
        action, issue = client.upsert_issue(
            marker=mark,
            title=f"Drift detected in {report.env}",
            body=render_issue(report, run_url=run_url),
            label=label,
        )
        return f"{action} issue #{issue.get('number')}"
    existing = client.find_issue(mark, label=label)
    if existing is None:
        return "no open drift issue"
    link = f" ([run]({run_url}))" if run_url else ""
    rest = (
        f" {_count(len(report.undeployed), 'undeployed change')} (merged, not applied yet) remain: not drift."
        if report.undeployed
        else ""
    )
    client.close_issue(int(existing["number"]), comment=f"No drift any more: AWS matches the last apply{link}.{rest}")
    return f"closed issue #{existing['number']}"
