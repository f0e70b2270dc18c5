"""`hubdeploy drift --env ENV --out DIR [--no-issue]`: plan an env; when AWS no longer matches the code,
open (or update) the env's one drift issue; when the drift is gone, close it."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.comment import marker, render_comment
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.settings import Settings

WORKFLOW = "drift"
LABEL = "drift"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="plan an env and open/update/close its drift issue",
        description="Plan ENV (read-only). Changes mean drift: open or update one issue per env; none: close it.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan folder to write")
    parser.add_argument("--no-issue", action="store_true", help="only report; do not touch GitHub issues")
    parser.add_argument("--label", default=LABEL, help="label of drift issues")
    parser.set_defaults(handler=run)


def sync_issue(client: GitHubClient, folder: planfolder.PlanFolder, *, label: str, run_url: str | None) -> str:
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


def run(args: argparse.Namespace, settings: Settings) -> int:
    root = planfolder.open_root(settings, args.env)
    folder, _doc = planfolder.write_plan_folder(root, args.out, commit=planfolder.current_commit(settings))
    planfolder.publish_to_actions(folder, workflow=WORKFLOW, run_url=settings.github_run_url)
    state = "DRIFT: " + folder.summary.line() if folder.summary.has_changes else "no drift"
    print(f"{args.env}: {state}")
    if not args.no_issue:
        client = GitHubClient.from_settings(settings)
        print(f"{args.env}: {sync_issue(client, folder, label=args.label, run_url=settings.github_run_url)}")
    return 0
