"""`hubdeploy comment --env ENV (--plan-dir DIR | --status S) [--pr N] [--dry-run]`: the sticky PR comment.

With --plan-dir: render the plan folder and create or update the env's comment (one per env and
workflow, found by its hidden marker). Without: only change the status line of the existing comment
(deploy jobs: applied / failed / rolled back, with a link to the run), keeping the reviewed plan.
The PR is --pr, else the pull_request of the triggering event, else the PR the commit came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.gitops import planfolder, review
from hubdeploy.gitops.comment import STATUSES, marker, render_comment, set_status
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.log import warn
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "comment",
        help="create/update the env's sticky PR comment, or set its status",
        description="Post the plan of DIR as the env's sticky PR comment, or update only its status.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, default=None, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument("--status", choices=STATUSES, default=None, help="status to show (default with DIR: planned)")
    parser.add_argument("--detail", default=None, help="short text after the status, e.g. why it failed")
    parser.add_argument("--pr", type=int, default=None, metavar="N", help="PR number (default: from the event)")
    parser.add_argument("--commit", default=None, help="find the PR of this commit (default: GITHUB_SHA)")
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="marker's workflow name")
    parser.add_argument("--dry-run", action="store_true", help="print the comment instead of posting it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.plan_dir is None and args.status is None:
        raise UsageError("nothing to do", hint="pass --plan-dir DIR (post the plan) or --status STATUS (update it)")
    mark = marker(args.env, args.workflow)
    if args.plan_dir is not None:
        folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
        body = render_comment(
            folder.comment_input(
                workflow=args.workflow, status=args.status or "planned", run_url=settings.github_run_url
            )
        )
        if args.dry_run:
            print(body)
            return 0
        client = GitHubClient.from_settings(settings)
        number = review.find_pr(settings, client, pr=args.pr, commit=args.commit)
        if number is None:
            raise UsageError("no pull request to comment on", hint="pass --pr N (or run in a pull_request workflow)")
        action, posted = client.upsert_comment(number, mark, body)
        print(f"{args.env}: {action} comment {posted.get('html_url') or posted.get('id')} on PR #{number}")
        return 0
    client = GitHubClient.from_settings(settings)
    number = review.find_pr(settings, client, pr=args.pr, commit=args.commit)
    if number is None:
        warn(f"{args.env}: no PR found for this commit; status {args.status} not posted")
        return 0
    existing = client.find_comment(number, mark)
    if existing is None:
        warn(f"{args.env}: PR #{number} has no hubdeploy comment for {args.env}; status {args.status} not posted")
        return 0
    body = set_status(existing["body"], args.status, run_url=settings.github_run_url, detail=args.detail)
    if args.dry_run:
        print(body)
        return 0
    client.update_comment(existing["id"], body)
    print(f"{args.env}: PR #{number} comment status set to {args.status}")
    return 0
