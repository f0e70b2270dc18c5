"""`hubdeploy drift --env ENV --out DIR [--no-issue]`: plan an env; when AWS no longer matches the code,
open (or update) the env's one drift issue; when the drift is gone, close it."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import drift, planfolder
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.infra import envroot
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="plan an env and open/update/close its drift issue",
        description="Plan ENV (read-only). Changes mean drift: open or update one issue per env; none: close it.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan folder to write")
    parser.add_argument("--no-issue", action="store_true", help="only report; do not touch GitHub issues")
    parser.add_argument("--label", default=drift.LABEL, help="label of drift issues")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    root = envroot.open_root(settings, args.env)
    folder, _doc = planfolder.write_plan_folder(root, args.out, commit=planfolder.current_commit(settings))
    planfolder.publish_to_actions(settings, folder, workflow=drift.WORKFLOW)
    state = "DRIFT: " + folder.summary.line() if folder.summary.has_changes else "no drift"
    print(f"{args.env}: {state}")
    if not args.no_issue:
        client = GitHubClient.from_settings(settings)
        print(f"{args.env}: {drift.sync_issue(client, folder, label=args.label, run_url=settings.github_run_url)}")
    return 0
