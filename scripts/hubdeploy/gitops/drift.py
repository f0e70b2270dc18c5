"""Drift: a plan of the deployed env with changes means AWS no longer matches the code. One GitHub issue per
env carries it (label `drift`, the plan inside): opened, updated by later runs, closed when the drift is gone."""

from __future__ import annotations

from hubdeploy.gitops.comment import marker, render_comment
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.planfolder import PlanFolder

WORKFLOW = "drift"
LABEL = "drift"


def sync_issue(client: GitHubClient, folder: PlanFolder, *, label: str, run_url: str | None) -> str:
    """Open/update the env's drift issue when the plan has changes, close it when not. Returns what happened."""
    mark = marker(folder.env, WORKFLOW)
    if folder.summary.has_changes:
        body = render_comment(folder.comment_input(workflow=WORKFLOW, status="drift detected", run_url=run_url))
        action, issue = client.upsert_issue(
            marker=mark, title=f"Drift detected in {folder.env}", body=body, label=label
        )
        return f"{action} issue #{issue.get('number')}"
    existing = client.find_issue(mark, label=label)
    if existing is None:
        return "no open drift issue"
    link = f" ([run]({run_url}))" if run_url else ""
    client.close_issue(int(existing["number"]), comment=f"No drift any more: the plan has no changes{link}.")
    return f"closed issue #{existing['number']}"
