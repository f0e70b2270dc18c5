"""The review record, and what a deploy may apply.

Recorded on the PR (`hubdeploy comment`), by the workflow's own identity only (settings.bot_login):
- a commit status `hubdeploy/plan (<env>)` on the commit that was planned: the PR's head commit on
  pull_request (never the temporary merge commit), the queue's head commit on merge_group; its description
  holds the plan hash; a failed re-plan turns it to `failure`, so no stale success counts;
- the env's sticky comment: the plan, its hash and the per-change digests (`planhash.ChangeRecord`).

At deploy, for the pushed commit S (`find_review`): the bot's status on S itself when S was tested by the
merge queue (what is deployed is what the queue tested), else the PR S came from -> its head commit's bot
status, confirmed by the PR's bot comment carrying the same hash. `assess` then says whether the plan about
to be applied is the reviewed one, what is left of it after a failed or partial apply (converging), or
something else (differs: it needs the environment's approval at deploy time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import PlanChangedError
from hubdeploy.evaluation.report import FAIL, MISSING, PASS, SKIPPED
from hubdeploy.gitops import actions
from hubdeploy.gitops.comment import marker, recorded, recorded_changes
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.planhash import ChangeRecord, check_hash, converge, differences

if TYPE_CHECKING:
    from hubdeploy.gitops.plansummary import PlanSummary
    from hubdeploy.settings import Settings

PR_EVENT = "pull_request"
QUEUE_EVENT = "merge_group"
_STATUS_HASH = re.compile(r"\bplan (?P<hash>sha256:[0-9a-f]{64})\b")


def status_context(env: str) -> str:
    """The commit status context of one env's plan (one per env: the envs are planned in parallel)."""
    return f"hubdeploy/plan ({env})"


def status_description(plan_hash: str, summary: PlanSummary) -> str:
    """`plan sha256:<hex> · +1 ~2 ±2 -0` (under GitHub's 140 characters): the hash is what deploy reads."""
    if not summary.has_changes:
        return f"plan {plan_hash} · no changes"
    return f"plan {plan_hash} · +{summary.add} ~{summary.change} ±{summary.replace} -{summary.destroy}"


def evaluation_context(env: str) -> str:
    """The commit status context of one env's evaluation (`hubdeploy evaluate`), next to its plan's."""
    return f"hubdeploy/evaluation ({env})"


def _short(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def evaluation_status(document: dict[str, Any] | None) -> tuple[str, str]:
    """(state, description) of the evaluation status from evaluation.json (GitHubClient.create_status cuts it to
    GitHub's 140 characters).

    success: the gates passed, or nothing was evaluated (no model or serving code change, or not pinned);
    failure: a gate failed, or the evaluate job did not report (verdict missing, or no document), so nothing
    unevaluated passes.
    """
    if document is None or document.get("verdict") == MISSING:
        return "failure", "evaluation did not report: see the evaluate job of this run"
    verdict = document.get("verdict")
    if verdict == SKIPPED:
        return "success", f"skipped: {document.get('reason') or 'nothing to evaluate'}"
    gates = [g for g in document.get("gates") or [] if isinstance(g, dict)]
    if verdict == FAIL:
        failed = [g for g in gates if g.get("passed") is False]  # None: the gate did not apply (no base)
        shown = "; ".join(f"{g.get('name')} {_short(g.get('value'))} vs {_short(g.get('limit'))}" for g in failed)
        return "failure", f"failed: {shown or 'see the comment'}"
    if verdict != PASS:
        return "failure", f"evaluation has no known verdict ({verdict!r})"
    head = (document.get("head") or {}).get("accuracy")
    base = (document.get("base") or {}).get("accuracy")
    flips = (document.get("flips") or {}).get("count")
    if base is None:  # the env was not pinned at the base: head alone, nothing to flip from
        return "success", f"pass · accuracy {_short(head)} (new pin, no base) · {len(gates)} gate(s)"
    return "success", f"pass · accuracy {_short(base)} → {_short(head)} · {flips} flips · {len(gates)} gate(s)"


def record_statuses(
    env: str, plan_hash: str, summary: PlanSummary, evaluation: dict[str, Any] | None
) -> list[tuple[str, str, str]]:
    """(context, state, description) of the statuses a posted plan records: the plan's, and the evaluation's
    when the plan has one (`planfolder.take_evaluation`)."""
    statuses = [(status_context(env), "success", status_description(plan_hash, summary))]
    if evaluation is not None:
        statuses.append((evaluation_context(env), *evaluation_status(evaluation)))
    return statuses


def require_evaluation_passed(client: GitHubClient, review: Review | None, env: str) -> None:
    """Refuse a deploy whose reviewed commit's evaluation did not pass (the bot's `hubdeploy/evaluation (ENV)`
    status). No review, or no status at all (recorded before evaluations existed), is left to the other checks.

    Raises:
        PlanChangedError: naming the evaluation's status and what to do.
    """
    if review is None:
        return
    status = client.bot_status(review.head_sha, evaluation_context(env))
    if status is None or status.get("state") == "success":
        return
    raise PlanChangedError(
        f"{env}: the evaluation of the model reviewed on {review.source} did not pass "
        f"({status.get('state')}: {status.get('description') or 'no description'}); refusing to deploy",
        hint="fix what the evaluation reports in a new PR (another revision, or a reviewed change to "
        "model-gates.toml): a failed evaluation is not overridden at deploy time",
    )


def status_hash(status: dict[str, object] | None) -> str | None:
    """The plan hash a successful hubdeploy status records, or None."""
    if not status or status.get("state") != "success":
        return None
    found = _STATUS_HASH.search(str(status.get("description") or ""))
    return found.group("hash") if found else None


@dataclass(frozen=True)
class EventHead:
    """What the triggering event planned: its kind, the commit to record the status on, the PR."""

    event: str | None  # "pull_request", "merge_group", or another event (push, schedule, ...)
    sha: str | None  # pull_request.head.sha / merge_group.head_sha
    pr: int | None  # pull_request.number


def event_head(settings: Settings) -> EventHead:
    """The head commit of the triggering pull_request or merge_group event (GITHUB_EVENT_PATH)."""
    payload = actions.event_payload(settings)
    name = settings.github_event_name or (
        PR_EVENT if "pull_request" in payload else QUEUE_EVENT if "merge_group" in payload else None
    )
    if name in {PR_EVENT, "pull_request_target"} and isinstance(payload.get("pull_request"), dict):
        pull = payload["pull_request"]
        number = pull.get("number")
        sha = (pull.get("head") or {}).get("sha")
        return EventHead(PR_EVENT, str(sha) if sha else None, number if isinstance(number, int) else None)
    if name == QUEUE_EVENT and isinstance(payload.get("merge_group"), dict):
        sha = payload["merge_group"].get("head_sha")
        return EventHead(QUEUE_EVENT, str(sha) if sha else None, None)
    return EventHead(name, None, None)


def event_pr_number(settings: Settings) -> int | None:
    """The PR number of the triggering pull_request event (GITHUB_EVENT_PATH), if any."""
    return event_head(settings).pr


def find_pr(settings: Settings, client: GitHubClient | None, *, pr: int | None, commit: str | None) -> int | None:
    """`pr` when given, else the pull_request of the triggering event, else the PR `commit` (GITHUB_SHA) came from.

    A merge_group run has no PR to find: its commit is the queue's, not one a PR holds.
    """
    if pr is not None:
        return int(pr)
    head = event_head(settings)
    if head.pr is not None or client is None or head.event == QUEUE_EVENT:
        return head.pr
    commit = commit or settings.git_commit
    return client.pr_for_commit(commit) if commit else None


@dataclass(frozen=True)
class Review:
    """The reviewed plan of one env for one commit."""

    plan_hash: str
    source: str  # "PR #5 (head abc123456789)" / "the plan recorded on abc123456789 itself (merge queue)"
    changes: ChangeRecord | None  # per-change digests (None: a re-run converges only by the plan hash)
    pr: int | None
    head_sha: str


@dataclass(frozen=True)
class Lookup:
    """What `find_review` found: the review, or why there is none; the PR either way when known."""

    review: Review | None
    problem: str | None = None
    pr: int | None = None


def find_review(client: GitHubClient, *, env: str, commit: str, workflow: str = "pr") -> Lookup:
    """The reviewed plan of `env` for the pushed commit `commit` (see the module docstring)."""
    context = status_context(env)
    own = client.bot_status(commit, context)
    pull = client.pull_for_commit(commit)
    number = int(pull["number"]) if pull else None
    if own is not None:  # the merge queue planned this very commit
        found = status_hash(own)
        if found is None:
            return Lookup(
                None,
                f"the plan of {commit[:12]} for {env} did not succeed in the merge queue "
                f"({own.get('state')}: {own.get('description') or 'no description'})",
                number,
            )
        changes = _comment_changes(client, number, env=env, workflow=workflow, plan_hash=found)
        source = f"the plan recorded on {commit[:12]} itself (merge queue)"
        return Lookup(Review(found, source, changes, number, commit), None, number)
    if pull is None or number is None:
        return Lookup(None, f"commit {commit[:12]} did not come from a pull request, so no plan was reviewed")
    head = str((pull.get("head") or {}).get("sha") or client.pull(number).get("head", {}).get("sha") or "")
    if not head:
        return Lookup(None, f"GitHub did not say which commit is the head of PR #{number}", number)
    status = client.bot_status(head, context)
    if status is None:
        return Lookup(
            None,
            f"PR #{number}'s head commit {head[:12]} has no {context} status by {client.bot_login}: "
            "its plan was never recorded (or the run was cancelled)",
            number,
        )
    found = status_hash(status)
    if found is None:
        return Lookup(
            None,
            f"the last plan of PR #{number} (head {head[:12]}) for {env} did not succeed "
            f"({status.get('state')}: {status.get('description') or 'no description'})",
            number,
        )
    comment = client.find_comment(number, marker(env, workflow))
    meta = recorded(comment.get("body") or "") if comment else None
    if meta is None:
        return Lookup(None, f"PR #{number} has no hubdeploy plan comment for {env} by {client.bot_login}", number)
    if meta[0] != found:
        return Lookup(
            None,
            f"PR #{number}'s plan comment for {env} records {meta[0][:19]}… but its head commit's status "
            f"records {found[:19]}…: the comment is not the plan of the head commit",
            number,
        )
    changes = recorded_changes(comment.get("body") or "") if comment else None
    return Lookup(Review(found, f"PR #{number} (head {head[:12]})", changes, number, head), None, number)


def _comment_changes(
    client: GitHubClient, number: int | None, *, env: str, workflow: str, plan_hash: str
) -> ChangeRecord | None:
    """The per-change digests of the PR's bot comment, when it records the same plan hash."""
    if number is None:
        return None
    comment = client.find_comment(number, marker(env, workflow))
    body = comment.get("body") or "" if comment else ""
    meta = recorded(body)
    return recorded_changes(body) if meta and meta[0] == plan_hash else None


REVIEWED = "reviewed"
CONVERGING = "converging"
DIFFERS = "differs"


@dataclass(frozen=True)
class Assessment:
    """How the plan about to be applied relates to the reviewed one."""

    verdict: str  # REVIEWED, CONVERGING or DIFFERS
    lookup: Lookup
    plan_hash: str
    differences: list[str] = field(default_factory=list)  # what differs (addresses), for a DIFFERS verdict

    @property
    def review(self) -> Review | None:
        return self.lookup.review

    def explain(self, env: str) -> str:
        """One sentence: what the plan is, against what."""
        review = self.review
        if self.verdict == REVIEWED and review:
            return f"{env}: the plan is the one reviewed ({review.source}, {self.plan_hash})"
        if self.verdict == CONVERGING and review:
            return f"{env}: converging: what is left of the plan reviewed on {review.source} ({self.plan_hash})"
        if review is None:
            return f"{env}: no reviewed plan: {self.lookup.problem}"
        shown = self.differences[:8]
        more = f"; and {len(self.differences) - len(shown)} more" if len(self.differences) > len(shown) else ""
        what = ("; ".join(shown) + more) if shown else "the per-change record is missing"
        return (
            f"{env}: the plan now differs from the one reviewed on the PR ({review.source}: reviewed "
            f"{review.plan_hash[:19]}…, now {self.plan_hash[:19]}…): {what}"
        )


def assess(lookup: Lookup, *, plan_hash: str, current: ChangeRecord | None) -> Assessment:
    """Reviewed (same hash), converging (every change left is one the reviewed plan made), or differs."""
    review = lookup.review
    if review is None:
        return Assessment(DIFFERS, lookup, plan_hash)
    if check_hash(review.plan_hash) == check_hash(plan_hash):
        return Assessment(REVIEWED, lookup, plan_hash)
    if review.changes is not None and current is not None:
        if not converge(review.changes, current):
            return Assessment(CONVERGING, lookup, plan_hash)
        return Assessment(DIFFERS, lookup, plan_hash, differences(review.changes, current))
    return Assessment(DIFFERS, lookup, plan_hash)


def approval_for(approvals: list[dict[str, object]], env: str) -> str | None:
    """The login of who approved `env`'s deployment in a run's review history, or None."""
    for item in approvals:
        environments = item.get("environments")
        names = (
            {str(e.get("name")) for e in environments if isinstance(e, dict)}
            if isinstance(environments, list)
            else set()
        )
        user = item.get("user")
        if item.get("state") == "approved" and env in names:
            return str(user.get("login") or "?") if isinstance(user, dict) else "?"
    return None
