"""The plan folder: what `hubdeploy plan` writes and `comment`, `deploy-check`, `apply` and `drift` read.

A plan folder holds
- `tfplan`: the binary plan (applied by `hubdeploy apply`; it holds secrets in clear, so CI never
  uploads it as an artifact: the deploy job re-plans and proves by the hash that it is the same plan),
- `plan.txt`: `terraform show -no-color` of it (Terraform masks sensitive values there),
- `summary.json`: counts, model table, warnings (sensitive values masked), plan hash, env, commit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubdeploy.errors import TerraformError, UsageError
from hubdeploy.fsutil import atomic_write_bytes, atomic_write_json
from hubdeploy.gitops import actions
from hubdeploy.gitops.comment import CommentInput, render_job_summary
from hubdeploy.gitops.planhash import plan_hash
from hubdeploy.gitops.plansummary import PlanSummary, summarize
from hubdeploy.infra import envroot
from hubdeploy.infra.envroot import PLAN_FILE
from hubdeploy.infra.tfcli import run_terraform
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

TEXT_FILE = "plan.txt"
SUMMARY_FILE = "summary.json"
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

    @property
    def planfile(self) -> Path:
        return self.path / PLAN_FILE

    def comment_input(self, *, workflow: str, status: str = "planned", run_url: str | None = None) -> CommentInput:
        return CommentInput(
            env=self.env,
            workflow=workflow,
            summary=self.summary,
            plan_text=self.text,
            plan_hash=self.plan_hash,
            commit=self.commit,
            status=status,
            run_url=run_url,
        )


def write_plan_folder(
    root: envroot.EnvRoot, out: Path, *, commit: str, destroy: bool = False
) -> tuple[PlanFolder, dict[str, Any]]:
    """Plan `root` into `out` (tfplan, plan.txt, summary.json). Returns the folder and the raw plan JSON.

    The raw JSON holds sensitive values: it is returned for hashing and drift, never written.
    """
    out.mkdir(parents=True, exist_ok=True)
    for name in (PLAN_FILE, TEXT_FILE, SUMMARY_FILE):  # a failed plan must not leave an old one behind
        (out / name).unlink(missing_ok=True)
    planned = envroot.plan(root, out=(out / PLAN_FILE).resolve(), destroy=destroy)
    doc = envroot.show_json(root, planned.path)
    text = run_terraform(["show", "-no-color", str(planned.path)], cwd=root.path, env=root.tf_env).stdout
    summary = summarize(doc)
    digest = plan_hash(doc)
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
        },
    )
    folder = PlanFolder(
        path=out, env=root.env, plan_hash=digest, commit=commit, destroy=destroy, summary=summary, text=text
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
    )
    if env is not None and folder.env != env:
        raise UsageError(f"{path} holds a plan for {folder.env}, not {env}", hint="pass the folder of the right env")
    return folder


def current_commit(settings: Settings) -> str:
    """The commit being planned: GITHUB_SHA in Actions, else `git rev-parse HEAD`, else "unknown"."""
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
