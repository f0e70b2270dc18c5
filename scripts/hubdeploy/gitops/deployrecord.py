"""The deploy record: what one deploy job applied, on what grounds, and what the endpoint served before/after.

`hubdeploy apply` writes it to <plan-dir>/deploy-record.json (uploaded with the run) and the job summary;
`hubdeploy comment --status ... --record DIR` turns it into the PR comment's status line. It keeps the
provenance out of Terraform (where a commit tag would churn every plan): which commit, which PR, which
model revision and artifact, accepted as what.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubdeploy.errors import UsageError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.gitops.planfolder import RECORD_FILE, PlanFolder, read_accepted
from hubdeploy.gitops.plansummary import ABSENT

RECORD_VERSION = 1
MODEL_KEYS = ("hub_model_id", "hub_revision", "artifact", "artifact_sha256")
# What each acceptance means to a reader of the PR (deploy-check's accepted_as).
ACCEPTED_TEXT = {
    "reviewed": "the plan reviewed on the PR",
    "converging": "re-run converged: applied what was left of the reviewed plan",
    "nothing to apply": "nothing to apply",
}


def _known(value: str | None) -> str | None:
    return None if value in (None, ABSENT, "(known after apply)") else value


def build(
    folder: PlanFolder,
    *,
    commit: str | None,
    run_url: str | None,
    result: str,
    error: str | None = None,
    config_before: str | None = None,
    config_after: str | None = None,
) -> dict[str, Any]:
    """The record of applying `folder` (result "applied" or "failed"), with what deploy-check accepted."""
    accepted = read_accepted(folder) or {}
    model = {key: _known(folder.summary.model.get(key, (ABSENT, ABSENT))[1]) for key in MODEL_KEYS}
    before = config_before or _known(folder.summary.model.get("endpoint_config_name", (ABSENT, ABSENT))[0])
    return {
        "version": RECORD_VERSION,
        "env": folder.env,
        "result": result,
        "error": error,
        "commit": commit or folder.commit,
        "pr": accepted.get("pr"),
        "plan_hash": folder.plan_hash,
        "plan": folder.summary.line(),
        "accepted_as": accepted.get("accepted_as") or "unchecked (no deploy-check of this plan)",
        "accepted_detail": accepted.get("detail"),
        "approved_by": accepted.get("approved_by"),
        "reviewed_hash": accepted.get("reviewed_hash"),
        "model": model,
        "endpoint_config": {"before": before, "after": config_after},
        "run_url": run_url,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write(folder: PlanFolder, record: dict[str, Any]) -> Path:
    path = folder.path / RECORD_FILE
    atomic_write_json(path, record)
    return path


def read(path: Path) -> dict[str, Any]:
    """A deploy record from its file, or from the plan folder holding it."""
    file = path / RECORD_FILE if path.is_dir() else path
    try:
        record = json.loads(file.read_text())
    except FileNotFoundError:
        raise UsageError(f"no deploy record at {file}", hint="run hubdeploy apply --plan-dir DIR first") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{file} is not JSON ({exc})", hint="re-run hubdeploy apply") from None
    if not isinstance(record, dict):
        raise UsageError(f"{file} is not a deploy record", hint="re-run hubdeploy apply")
    return record


def detail(record: dict[str, Any]) -> str:
    """The status line's detail: `re-run converged: ...; endpoint config `x`; commit `abc`"`."""
    accepted = str(record.get("accepted_as") or "")
    if accepted == "approved":
        parts = [f"deploy-time plan approved by @{record.get('approved_by') or '?'}"]
    else:
        parts = [ACCEPTED_TEXT.get(accepted, accepted)] if accepted else []
    if record.get("result") == "failed":
        parts.insert(0, "apply failed")
    after = (record.get("endpoint_config") or {}).get("after")
    if after:
        parts.append(f"endpoint config `{after}`")
    if record.get("commit"):
        parts.append(f"commit `{str(record['commit'])[:12]}`")
    return "; ".join(p for p in parts if p)


def markdown(record: dict[str, Any]) -> str:
    """The job summary's table of the record."""
    model = record.get("model") or {}
    config = record.get("endpoint_config") or {}
    pr = f"#{record['pr']}" if record.get("pr") else "-"
    rows = [
        ("Result", record.get("result")),
        ("Accepted as", record.get("accepted_as")),
        ("Approved by", f"@{record['approved_by']}" if record.get("approved_by") else None),
        ("Commit", record.get("commit")),
        ("PR", pr),
        ("Plan", record.get("plan")),
        ("Plan hash", record.get("plan_hash")),
        ("Hub model", model.get("hub_model_id")),
        ("Revision", model.get("hub_revision")),
        ("Artifact sha256", model.get("artifact_sha256")),
        ("Endpoint config before", config.get("before")),
        ("Endpoint config after", config.get("after")),
        ("Error", record.get("error")),
    ]
    lines = [f"### Deploy record for `{record.get('env')}`", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {str(value).replace('|', '/')} |" for label, value in rows if value not in (None, "")]
    return "\n".join(lines) + "\n"
