"""`hubdeploy comment --env ENV (--plan-dir DIR | --status S) [--pr N] [--dry-run]`: the review record on GitHub.

With --plan-dir: render the plan folder and create or update the env's sticky comment (one per env and
workflow, found by its hidden marker among the comments of the workflow's own identity), and record the
plan hash as the commit status `hubdeploy/plan (ENV)` on the commit that was planned: the PR's head commit
on pull_request (the comment shows that commit, not the temporary merge commit); on merge_group only the
statuses, on the queue's head commit (there is no PR to comment on). With an evaluation (--evaluation-json, or
DIR/evaluation.json) its verdict goes beside it as `hubdeploy/evaluation (ENV)`, which deploy-check reads too.

Without: change only the status line of the existing comment (deploy jobs: applying / applied / failed /
rolled back, with a link to the run and --detail or the deploy record's facts), keeping the reviewed plan.
On pull_request and merge_group runs, `--status failed` also turns the env's commit status to failure, so a
plan that failed to refresh never leaves the previous one counting as reviewed. The PR is --pr, else the
pull_request of the triggering event, else the PR the commit came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.gitops import deployrecord, planfolder, review
from hubdeploy.gitops.comment import STATUSES, marker, render_comment, set_status
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.log import warn
from hubdeploy.settings import Settings

DEPLOY_WORKFLOW = "deploy"  # the deploy-time plan comment (hubdeploy gate)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "comment",
        help="post the env's plan (sticky PR comment + commit status), or set its status",
        description="Post the plan of DIR as the env's sticky PR comment and commit status, or update the status.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, default=None, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument("--status", choices=STATUSES, default=None, help="status to show (default with DIR: planned)")
    parser.add_argument("--detail", default=None, help="short text after the status, e.g. why it failed")
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="PATH",
        help="deploy-record.json (or the plan folder holding it): its facts become the status detail",
    )
    parser.add_argument(
        "--evaluation-json", metavar="JSON", help="ENV's result from the evaluate job (empty: it did not report)"
    )
    parser.add_argument("--pr", type=int, default=None, metavar="N", help="PR number (default: from the event)")
    parser.add_argument("--commit", default=None, help="find the PR of this commit (default: GITHUB_SHA)")
    parser.add_argument(
        "--sha", default=None, help="commit to set the status on (default: the event's PR / merge queue head)"
    )
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="marker's workflow name")
    parser.add_argument("--dry-run", action="store_true", help="print the comment instead of posting it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.plan_dir is None and args.status is None:
        raise UsageError("nothing to do", hint="pass --plan-dir DIR (post the plan) or --status STATUS (update it)")
    if args.plan_dir is not None:
        return _post_plan(args, settings)
    return _set_status(args, settings)


def _post_plan(args: argparse.Namespace, settings: Settings) -> int:
    # first: the folder read next shows the evaluation stored here
    evaluation = planfolder.take_evaluation(args.plan_dir, args.env, given=args.evaluation_json)
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    head = review.event_head(settings)
    sha = args.sha or head.sha
    shown = head.sha if head.event == review.PR_EVENT else None  # the PR's head, not GITHUB_SHA's merge commit
    body = render_comment(
        folder.comment_input(
            workflow=args.workflow, status=args.status or "planned", run_url=settings.github_run_url, commit=shown
        )
    )
    statuses = review.record_statuses(args.env, folder.plan_hash, folder.summary, evaluation)
    if args.dry_run:
        if head.event != review.QUEUE_EVENT:
            print(body)
        for context, state, text in statuses if sha else []:
            print(f"status {context} on {sha}: {state}, {text}")
        return 0
    client = GitHubClient.from_settings(settings)
    if head.event != review.QUEUE_EVENT:
        number = review.find_pr(settings, client, pr=args.pr, commit=args.commit)
        if number is None:
            raise UsageError("no pull request to comment on", hint="pass --pr N (or run in a pull_request workflow)")
        action, posted = client.upsert_comment(number, marker(args.env, args.workflow), body)
        print(f"{args.env}: {action} comment {posted.get('html_url') or posted.get('id')} on PR #{number}")
    if not sha:
        if head.event == review.QUEUE_EVENT:
            raise UsageError("the merge_group event names no head commit", hint="pass --sha SHA")
        warn(f"{args.env}: no commit status recorded (not a pull_request or merge_group run); pass --sha SHA")
        return 0
    for context, state, text in statuses:
        client.create_status(sha, context=context, state=state, description=text, target_url=settings.github_run_url)
        print(f"{args.env}: status {context} on {sha[:12]}: {state}, {text}")
    return 0


def _set_status(args: argparse.Namespace, settings: Settings) -> int:
    detail = args.detail
    if args.record is not None and not detail:
        detail = deployrecord.detail(deployrecord.read(args.record)) or None
    head = review.event_head(settings)
    planned_here = head.event in {review.PR_EVENT, review.QUEUE_EVENT}
    sha = args.sha or head.sha
    client = GitHubClient.from_settings(settings)
    if args.status == "failed" and planned_here and sha and not args.dry_run:
        # the previous plan's success must not keep counting as the review of this commit
        context = review.status_context(args.env)
        client.create_status(
            sha,
            context=context,
            state="failure",
            description=f"plan failed: {detail}" if detail else "plan failed",
            target_url=settings.github_run_url,
        )
        print(f"{args.env}: status {context} on {sha[:12]}: failure")
    if head.event == review.QUEUE_EVENT:
        return 0  # no PR comment in the merge queue
    number = review.find_pr(settings, client, pr=args.pr, commit=args.commit)
    if number is None:
        warn(f"{args.env}: no PR found for this commit; status {args.status} not posted")
        return 0
    workflows = [args.workflow] + ([DEPLOY_WORKFLOW] if args.workflow == planfolder.DEFAULT_WORKFLOW else [])
    updated = 0
    for workflow in workflows:
        existing = client.find_comment(number, marker(args.env, workflow))
        if existing is None:
            continue
        body = set_status(existing["body"], args.status, run_url=settings.github_run_url, detail=detail)
        if args.dry_run:
            print(body)
        else:
            client.update_comment(existing["id"], body)
        updated += 1
    if not updated:
        warn(f"{args.env}: PR #{number} has no hubdeploy comment for {args.env}; status {args.status} not posted")
        return 0
    print(f"{args.env}: PR #{number} comment status set to {args.status}" + (f" ({detail})" if detail else ""))
    return 0
