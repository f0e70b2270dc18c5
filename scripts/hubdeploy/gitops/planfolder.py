"""The plan folder: what `hubdeploy plan` writes and `comment`, `deploy-check`, `apply` and `drift` read.

A plan folder holds
- `tfplan`: the binary plan (applied by `hubdeploy apply`; it holds secrets in clear, so CI never
  uploads it as an artifact: the deploy job re-plans and proves by the hash that it is the same plan),
- `plan.txt`: `terraform show -no-color` of it (Terraform masks sensitive values there; `plantext`),
- `summary.json`: counts, model table, warnings (sensitive values masked), plan hash, per-change digests
  (`planhash.change_record`: digests only, no value), env, commit,
and, in the deploy job, `accepted.json` (what deploy-check accepted the plan as) and `deploy-record.json`
(what `hubdeploy apply` did). In a PR's plan job, `hubdeploy evaluate` adds `evaluation.json` (the model change's
evaluation, `hubdeploy.evaluation.report`): the comment shows it when it is there; planning leaves it alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubdeploy.errors import TerraformError, UsageError
from hubdeploy.evaluation.report import EVALUATION_FILE, missing_document
from hubdeploy.fsutil import atomic_write_bytes, atomic_write_json
from hubdeploy.gitops import actions, review, supplychain
from hubdeploy.gitops.comment import CommentInput, render_job_summary
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.planhash import ChangeRecord, change_record, plan_hash
from hubdeploy.gitops.plansummary import PlanSummary, summarize
from hubdeploy.gitops.plantext import plan_text
from hubdeploy.gitops.review import event_head
from hubdeploy.infra import envroot
from hubdeploy.infra.envroot import PLAN_FILE
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

TEXT_FILE = "plan.txt"
SUMMARY_FILE = "summary.json"
ACCEPTED_FILE = "accepted.json"
RECORD_FILE = "deploy-record.json"
DEFAULT_WORKFLOW = "pr"


@dataclass(frozen=True)
class PlanFolder:
    """A plan folder read back."""

    path: Path
    env: str
    plan_hash: str
    commit: str
    destroy: bool
    summary: PlanSummary
    text: str
    changes: ChangeRecord | None = None  # per-change digests (None in folders written before they existed)
    evaluation: dict[str, Any] | None = None  # evaluation.json, when `hubdeploy evaluate` wrote one here

    @property
    def planfile(self) -> Path:
        return self.path / PLAN_FILE

    def comment_input(
        self,
        *,
        workflow: str,
        status: str = "planned",
        run_url: str | None = None,
        commit: str | None = None,
        headline: str | None = None,
    ) -> CommentInput:
        """What the comment / job summary of this plan shows; `commit` overrides the folder's (a PR's head)."""
        return CommentInput(
            env=self.env,
            workflow=workflow,
            summary=self.summary,
            plan_text=self.text,
            plan_hash=self.plan_hash,
            commit=commit or self.commit,
            status=status,
            run_url=run_url,
            changes=self.changes,
            headline=headline,
            evaluation=self.evaluation,
        )


def write_plan_folder(
    root: envroot.EnvRoot,
    out: Path,
    *,
    commit: str,
    destroy: bool = False,
    lock: bool = True,
    lock_timeout: str | None = None,
    refresh_only: bool = False,
) -> tuple[PlanFolder, dict[str, Any]]:
    """Plan `root` into `out` (tfplan, plan.txt, summary.json). Returns the folder and the raw plan JSON.

    The raw JSON holds sensitive values: it is returned for hashing and drift, never written.
    `lock`, `lock_timeout` and `refresh_only` are envroot.plan's (lock=False: a speculative plan).
    """
    out.mkdir(parents=True, exist_ok=True)
    # a failed plan must not leave an old one behind, nor an acceptance or a deploy record of an older plan
    for name in (PLAN_FILE, TEXT_FILE, SUMMARY_FILE, ACCEPTED_FILE, RECORD_FILE):
        (out / name).unlink(missing_ok=True)
    planned = envroot.plan(
        root,
        out=(out / PLAN_FILE).resolve(),
        destroy=destroy,
        lock=lock,
        lock_timeout=lock_timeout,
        refresh_only=refresh_only,
    )
    doc = envroot.show_json(root, planned.path)
    text = plan_text(doc, planned.path, cwd=root.path, env=root.tf_env, destroy=destroy, refresh_only=refresh_only)
    summary = summarize(doc)
    if summary.model:  # licence, weights format, files changed: from the facts recorded with the pins
        summary.model.update(supplychain.rows(summary.model, supplychain.known_facts(root.repo_root, root.env)))
    digest = plan_hash(doc)
    changes = change_record(doc)
    atomic_write_bytes(out / TEXT_FILE, text.encode())
    atomic_write_json(
        out / SUMMARY_FILE,
        {
            "env": root.env,
            "plan_hash": digest,
            "commit": commit,
            "destroy": destroy,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "summary": summary.to_json(),
            "changes": changes.to_json(),
        },
    )
    folder = PlanFolder(
        path=out,
        env=root.env,
        plan_hash=digest,
        commit=commit,
        destroy=destroy,
        summary=summary,
        text=text,
        changes=changes,
        evaluation=read_evaluation(out),
    )
    return folder, doc


def read_plan_folder(path: Path, *, env: str | None = None) -> PlanFolder:
    """Read a plan folder back; refuse one made for another env."""
    try:
        meta = json.loads((path / SUMMARY_FILE).read_text())
        text = (path / TEXT_FILE).read_text()
    except FileNotFoundError as exc:
        raise UsageError(
            f"{path} is not a plan folder (missing {Path(exc.filename).name})",
            hint="run: hubdeploy plan --env ENV --out DIR",
        ) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path / SUMMARY_FILE} is not JSON ({exc})", hint="re-run hubdeploy plan") from None
    folder = PlanFolder(
        path=path,
        env=str(meta["env"]),
        plan_hash=str(meta["plan_hash"]),
        commit=str(meta.get("commit") or "unknown"),
        destroy=bool(meta.get("destroy")),
        summary=PlanSummary.from_json(meta["summary"]),
        text=text,
        changes=ChangeRecord.from_json(meta.get("changes")),
        evaluation=read_evaluation(path),
    )
    if env is not None and folder.env != env:
        raise UsageError(f"{path} holds a plan for {folder.env}, not {env}", hint="pass the folder of the right env")
    return folder


def read_evaluation(path: Path) -> dict[str, Any] | None:
    """The folder's evaluation.json, or None: none written (no evaluation ran, an older folder) or unreadable
    (warned: the comment then shows no evaluation rather than failing the whole comment)."""
    try:
        doc = json.loads((path / EVALUATION_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("%s is unreadable (%s): the comment shows no evaluation", path / EVALUATION_FILE, exc)
        return None
    return doc if isinstance(doc, dict) else None


def take_evaluation(plan_dir: Path, env: str, *, given: str | None) -> dict[str, Any] | None:
    """The evaluation `hubdeploy comment` records for this plan, or None when it has none.

    With `given` (CI: the evaluate job's output, --evaluation-json) it is stored in the plan folder for the comment;
    empty, the job did not report, and that is what is stored. Without, the folder's own evaluation.json counts
    when there is one (preview, a re-post by hand).
    """
    path = plan_dir / EVALUATION_FILE
    if given is None:
        return _parse_evaluation(path.read_text(), env) if path.is_file() else None
    # an empty output is recorded as such, so the comment says it and never shows an older evaluation
    document = _parse_evaluation(given, env) if given.strip() else missing_document(env)
    atomic_write_json(path, document)
    return document


def _parse_evaluation(text: str, env: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--evaluation-json is not JSON ({exc})", hint="pass the evaluate job's output for this env"
        ) from None
    if not isinstance(document, dict) or document.get("env") != env:
        found = document.get("env") if isinstance(document, dict) else type(document).__name__
        raise UsageError(
            f"the evaluation given is not {env}'s (env {found!r})", hint="pass needs.evaluate.outputs[matrix.env]"
        )
    return document


def current_commit(settings: Settings) -> str:
    """The commit being planned: the PR's head commit on pull_request events (GITHUB_SHA is then a temporary
    merge commit nobody knows), else GITHUB_SHA, else `git rev-parse HEAD`, else "unknown"."""
    head = event_head(settings)
    if head.event == "pull_request" and head.sha:
        return head.sha
    if settings.git_commit:
        return settings.git_commit
    import subprocess

    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=settings.repo_root, capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def publish_to_actions(settings: Settings, folder: PlanFolder, *, workflow: str) -> None:
    """In GitHub Actions: the full plan into the job summary, hash and change flag into step outputs."""
    actions.append_summary(
        settings, render_job_summary(folder.comment_input(workflow=workflow, run_url=settings.github_run_url))
    )
    actions.set_outputs(settings, plan_hash=folder.plan_hash, has_changes=folder.summary.has_changes)


def check_planfile(folder: PlanFolder) -> Path:
    """The folder's plan file, or a clear error when it is missing."""
    if not folder.planfile.is_file():
        raise TerraformError(
            f"no plan file in {folder.path}", hint=f"run: hubdeploy plan --env {folder.env} --out {folder.path}"
        )
    return folder.planfile


def current_changes(settings: Settings, folder: PlanFolder) -> ChangeRecord | None:
    """The folder's per-change record with the planned values in memory (`terraform show -json` of its plan
    file, so a value the reviewed plan knew only after apply can be matched), else the one in summary.json.

    The planned values hold secrets in clear: they stay in memory, never written.
    """
    if not folder.planfile.is_file():
        return folder.changes
    root = envroot.open_root(settings, folder.env, initialise=False)
    return change_record(envroot.show_json(root, folder.planfile.resolve()))


def write_accepted(folder: PlanFolder, accepted: dict[str, Any]) -> Path:
    """Record what deploy-check accepted this plan as (apply copies it into the deploy record)."""
    path = folder.path / ACCEPTED_FILE
    atomic_write_json(
        path,
        {
            "env": folder.env,
            "plan_hash": folder.plan_hash,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **accepted,
        },
    )
    return path


def read_accepted(folder: PlanFolder) -> dict[str, Any] | None:
    """What deploy-check accepted this very plan as, or None (not checked, or checked for another plan)."""
    try:
        accepted = json.loads((folder.path / ACCEPTED_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(accepted, dict) or accepted.get("plan_hash") != folder.plan_hash:
        return None
    return accepted


def assess_against_review(
    settings: Settings, folder: PlanFolder, client: GitHubClient, *, commit: str, workflow: str
) -> review.Assessment:
    """The folder's plan against the review record of `commit` (what gate and deploy-check both decide on); the
    plan file is shown (`terraform show -json`) only when its hash differs from the reviewed one."""
    lookup = review.find_review(client, env=folder.env, commit=commit, workflow=workflow)
    differs = lookup.review is not None and lookup.review.plan_hash != folder.plan_hash
    current = current_changes(settings, folder) if differs else None
    return review.assess(lookup, plan_hash=folder.plan_hash, current=current)
