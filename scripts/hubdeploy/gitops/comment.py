"""Render the per-environment sticky PR comment and the job summary (Markdown).

One comment per (env, workflow), found again by its hidden marker and edited in place. The full plan
goes in a collapsed block, cut on a line boundary so the comment stays under GitHub's 65,536-character
limit; the job summary and the plan artifact keep the whole text. Hidden lines at the end record the plan
hash, the commit and the per-change digests (`planhash.ChangeRecord`): deploy-check reads them back from
the comment written by the workflow's own identity (`GitHubClient.find_comment`). A plan folder holding
evaluation.json (`hubdeploy evaluate`) adds its "Evaluation" section before the plan (`evaluation.report`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hubdeploy.errors import UsageError
from hubdeploy.evaluation.report import section_md
from hubdeploy.gitops.cost import LEFT_OUT
from hubdeploy.gitops.planhash import ChangeRecord
from hubdeploy.gitops.plansummary import MODEL_FIELDS, PlanSummary

GITHUB_COMMENT_LIMIT = 65_536
# Step summaries are capped at 1 MiB per step by GitHub; stay clearly below.
JOB_SUMMARY_LIMIT = 1_000_000
# The life of one env's plan: planned on the PR; at deploy, a plan that differs waits for the environment's
# approval ("awaiting approval", on the deploy-time comment); then applying -> applied | failed | rolled back.
# What exactly happened (re-run converged, approved by whom, why it failed) goes in the detail text.
STATUSES = ("planned", "awaiting approval", "applying", "applied", "failed", "rolled back", "drift detected")
STATUS_ICONS = {
    "planned": "📝",
    "awaiting approval": "⏸️",
    "applying": "⏳",
    "applied": "✅",
    "failed": "❌",
    "rolled back": "↩️",
    "drift detected": "🔀",
}
STATUS_START = "<!-- hubdeploy:status -->"
STATUS_END = "<!-- /hubdeploy:status -->"
_META = re.compile(r"<!-- hubdeploy:meta plan-hash=(?P<hash>\S+) commit=(?P<commit>\S+) -->")
_CHANGES = re.compile(r"<!-- hubdeploy:changes (?P<record>[A-Za-z0-9_-]+) -->")
# Beyond this the per-change record is left out of the comment (a re-run then converges only by the plan
# hash): it must never crowd out the plan itself.
CHANGES_LIMIT = 16_000
TITLES = {"deploy": "hubdeploy deploy-time plan for"}  # other workflows: "hubdeploy plan for"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def github_length(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units): an emoji outside the BMP counts as two."""
    return len(text.encode("utf-16-le")) // 2


def marker(env: str, workflow: str) -> str:
    """The hidden line that identifies one env's comment of one workflow (never matches another env's)."""
    for label, value in (("env", env), ("workflow", workflow)):
        if not _NAME.match(value):
            raise UsageError(f"{label} {value!r} may hold only letters, digits, '.', '_' and '-'", hint="rename it")
    return f"<!-- hubdeploy:plan env={env} workflow={workflow} -->"


def _cell(text: str) -> str:
    """A value safe inside a Markdown table cell, shown as code."""
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text not in {"-", ""} else "-"


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in `text`, so the plan can never close it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def status_block(status: str, *, run_url: str | None = None, detail: str | None = None) -> str:
    """The replaceable status line."""
    if status not in STATUSES:
        raise UsageError(f"unknown status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    text = f"{STATUS_ICONS[status]} **Status: {status}**"
    if detail:
        text += f" — {detail}"
    if run_url:
        text += f" ([run]({run_url}))"
    return f"{STATUS_START}\n{text}\n{STATUS_END}"


def model_table_md(summary: PlanSummary) -> str:
    """`| | Before | After |` rows for the serving chain; changed rows get a marker."""
    if not summary.model:
        return "_No SageMaker model in this plan._"
    lines = ["| | Before | After |", "|---|---|---|"]
    for key, label in MODEL_FIELDS:
        old, new = summary.model.get(key, ("-", "-"))
        label_md = f"**{label}** ✏️" if old != new else label
        lines.append(f"| {label_md} | {_cell(old)} | {_cell(new)} |")
    return "\n".join(lines)


def cost_md(summary: PlanSummary) -> str | None:
    """The endpoint's monthly cost before -> after, with where the prices come from."""
    if summary.cost is None:
        return None
    return f"**Cost:** {summary.cost.line()}  \n<sub>Prices: {summary.cost.provenance}; {LEFT_OUT}.</sub>"


def warnings_md(summary: PlanSummary) -> str:
    return "\n".join(f"> ⚠️ **{w.text()}**" for w in summary.warnings)


@dataclass(frozen=True)
class CommentInput:
    """Everything a comment shows."""

    env: str
    workflow: str
    summary: PlanSummary
    plan_text: str
    plan_hash: str
    commit: str
    status: str = "planned"
    run_url: str | None = None
    changes: ChangeRecord | None = None  # per-change digests, recorded hidden in the comment
    headline: str | None = None  # a note right under the status line (the deploy-time plan says why it is there)
    evaluation: dict[str, Any] | None = None  # evaluation.json of the plan folder (`hubdeploy evaluate`), if any


def _head(data: CommentInput) -> list[str]:
    parts = [
        marker(data.env, data.workflow),
        f"### {TITLES.get(data.workflow, 'hubdeploy plan for')} `{data.env}`",
        status_block(data.status, run_url=data.run_url),
    ]
    if data.headline:
        parts.append("\n".join(f"> {line}" for line in data.headline.splitlines()))
    parts.append(f"**Plan:** {data.summary.line()}")
    if data.summary.errored:
        parts.append("> ❌ **terraform reported errors while planning; see the plan output.**")
    parts.append(model_table_md(data.summary))
    cost = cost_md(data.summary)
    if cost:
        parts.append(cost)
    if data.summary.capacity_note:
        parts.append(f"> Capacity kept: {data.summary.capacity_note}.")
    if data.summary.warnings:
        parts.append(warnings_md(data.summary))
    if data.evaluation is not None:
        parts.append(section_md(data.evaluation))
    return parts


def _foot(data: CommentInput) -> list[str]:
    short = data.commit[:12] if data.commit else "unknown"
    return [
        f"Plan hash `{data.plan_hash}` · commit `{short}`"
        + (f" · [workflow run]({data.run_url})" if data.run_url else ""),
        f"<!-- hubdeploy:meta plan-hash={data.plan_hash} commit={data.commit or 'unknown'} -->",
        *_changes_meta(data.changes),
    ]


def _changes_meta(changes: ChangeRecord | None) -> list[str]:
    if changes is None:
        return []
    encoded = changes.encode()
    return [f"<!-- hubdeploy:changes {encoded} -->"] if len(encoded) <= CHANGES_LIMIT else []


def _details(plan_text: str, *, budget: int, run_url: str | None) -> str:
    """The collapsed plan block, cut on a line boundary when the text does not fit in `budget` chars."""
    text = plan_text.strip("\n")  # terraform show starts with a blank line
    fence = _fence(text)
    lines = text.splitlines()
    opening = f"<details><summary>Full plan ({len(lines)} lines)</summary>\n\n{fence}text\n"
    closing = f"\n{fence}\n\n</details>"
    if len(opening) + len(text) + len(closing) <= budget:
        return opening + text + closing
    where = f"[the job summary and the plan artifact of this run]({run_url})" if run_url else "the plan artifact"
    # The note's numbers change the length by a few chars: reserve room for the longest form.
    note_room = len(f"\n\n> ✂️ Plan cut: showing {len(lines)} of {len(lines)} lines. The full text is in {where}.")
    room = budget - len(opening) - len(closing) - note_room
    if room <= 0:
        kept: list[str] = []
    else:
        cut = text[:room]
        kept = cut[: cut.rfind("\n")].splitlines() if "\n" in cut else []
    note = f"\n\n> ✂️ Plan cut: showing {len(kept)} of {len(lines)} lines. The full text is in {where}."
    return opening + "\n".join(kept) + closing + note


def render_comment(data: CommentInput, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The sticky comment body, always shorter than `limit` characters."""
    head = "\n\n".join(_head(data))
    foot = "\n\n".join(_foot(data))
    budget = limit - len(head) - len(foot) - 4 - 64  # 64: safety margin for GitHub's own counting
    if budget < 200:
        raise UsageError("the comment's header alone is over GitHub's size limit", hint="this is a bug: report it")
    while True:
        body = "\n\n".join([head, _details(data.plan_text, budget=budget, run_url=data.run_url), foot]) + "\n"
        over = github_length(body) - (limit - 1)
        if over <= 0:
            return body
        budget -= over  # characters outside the BMP count twice on GitHub's side: shrink and retry


def render_job_summary(data: CommentInput, *, limit: int = JOB_SUMMARY_LIMIT) -> str:
    """The job summary: the same head, then the whole plan (cut only beyond GitHub's 1 MiB step limit)."""
    head = "\n\n".join(_head(data)[1:])  # no marker: a job summary is not searched for
    foot = "\n\n".join(_foot(data)[:1])
    text = data.plan_text.strip("\n")
    fence = _fence(text)
    block = f"{fence}text\n{text}\n{fence}"
    if len(head) + len(block) + len(foot) + 8 > limit:
        block = _details(text, budget=limit - len(head) - len(foot) - 8, run_url=data.run_url)
    return "\n\n".join([head, block, foot]) + "\n"


def set_status(body: str, status: str, *, run_url: str | None = None, detail: str | None = None) -> str:
    """`body` with its status block replaced (the rest, the reviewed plan, stays as it was)."""
    start, end = body.find(STATUS_START), body.find(STATUS_END)
    if start < 0 or end < start:
        raise UsageError("the comment has no hubdeploy status block", hint="re-run the PR workflow to recreate it")
    return body[:start] + status_block(status, run_url=run_url, detail=detail) + body[end + len(STATUS_END) :]


def recorded(body: str) -> tuple[str, str] | None:
    """(plan hash, commit) recorded in a comment body, or None."""
    found = _META.search(body)
    return (found.group("hash"), found.group("commit")) if found else None


def recorded_changes(body: str) -> ChangeRecord | None:
    """The per-change digests recorded in a comment body, or None."""
    found = _CHANGES.search(body)
    return ChangeRecord.decode(found.group("record")) if found else None
