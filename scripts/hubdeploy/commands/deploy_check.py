"""`hubdeploy deploy-check --env ENV --plan-dir DIR [--approved-hash H]`: refuse to apply a plan nobody accepted.

A plan with changes is accepted, in this order, as
1. reviewed: its hash is the one recorded for the pushed commit (GITHUB_SHA): the bot's commit status on the
   commit itself (merge queue), else on the head commit of the PR it came from, confirmed by that PR's bot
   comment (`hubdeploy.gitops.review`);
2. converging: a re-run after a failed or partial apply, every change left being one the reviewed plan made
   with the same planned values (the per-change digests of the PR comment);
3. approved: --approved-hash H (the plan the gate job showed) equals this plan's hash and this run's review
   history has an approval of the ENV environment (a reviewer approved the deployment at deploy time).
Whichever way, a reviewed commit whose evaluation failed (its `hubdeploy/evaluation (ENV)` status) is refused.
A plan with no changes is "nothing to apply". What was accepted goes to DIR/accepted.json: `hubdeploy apply`
copies it into the deploy record. --reviewed-hash H compares with H only (no GitHub).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import PlanChangedError, TerraformError
from hubdeploy.gitops import planfolder, review
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.planhash import check_hash, compare
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deploy-check",
        help="accept a plan folder only as the reviewed plan, what is left of it, or a plan approved at deploy",
        description="Exit 1 with a clear message when the plan about to be applied was not accepted.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, required=True, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument(
        "--reviewed-hash", default=None, metavar="HASH", help="compare with this hash only (default: from GitHub)"
    )
    parser.add_argument(
        "--approved-hash",
        default=None,
        metavar="HASH",
        help="the plan shown to the environment's reviewers (the gate's plan-hash); accepted with their approval",
    )
    parser.add_argument("--commit", default=None, help="commit being deployed (default: GITHUB_SHA)")
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="workflow that posted the PR comment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    if args.reviewed_hash:
        compare(env=args.env, reviewed=check_hash(args.reviewed_hash), current=folder.plan_hash)
        _accept(folder, "reviewed", f"{args.env}: the plan is the one reviewed (--reviewed-hash, {folder.plan_hash})")
        return 0
    if not folder.summary.has_changes:
        _accept(folder, "nothing to apply", f"{args.env}: no changes to apply; nothing to compare")
        return 0
    commit = args.commit or settings.git_commit
    if not commit:
        raise TerraformError("no commit to look up", hint="pass --commit SHA (in Actions GITHUB_SHA is set)")
    client = GitHubClient.from_settings(settings)
    verdict = planfolder.assess_against_review(settings, folder, client, commit=commit, workflow=args.workflow)
    lookup = verdict.lookup
    found = verdict.review
    facts: dict[str, Any] = {
        "commit": commit,
        "pr": lookup.pr,
        "reviewed_hash": found.plan_hash if found else None,
        "reviewed_on": found.source if found else None,
    }
    review.require_evaluation_passed(client, found, args.env)
    if verdict.verdict == review.REVIEWED:
        _accept(folder, "reviewed", verdict.explain(args.env), **facts)
        return 0
    if verdict.verdict == review.CONVERGING:
        left = len(folder.changes.changes) if folder.changes else 0
        _accept(folder, "converging", f"{verdict.explain(args.env)}; {left} change(s) left", **facts)
        return 0
    refusal = verdict.explain(args.env)
    if args.approved_hash:
        approved = check_hash(args.approved_hash)
        if approved != check_hash(folder.plan_hash):
            raise PlanChangedError(
                f"{refusal}; and it is not the plan the environment's reviewers were shown "
                f"(approved {approved[:19]}…, now {folder.plan_hash[:19]}…); refusing to apply",
                hint="the state or the inputs moved between the gate and this job: re-run the deploy workflow "
                "so the gate posts the new plan, then approve it",
            )
        if not settings.github_run_id:
            raise TerraformError(
                "no workflow run to read the environment's approvals from", hint="run it in GitHub Actions"
            )
        approver = review.approval_for(client.run_approvals(settings.github_run_id), args.env)
        if approver is not None:
            message = f"{args.env}: approved at deploy time by @{approver} ({folder.plan_hash})"
            _accept(folder, "approved", message, approved_by=approver, **facts)
            return 0
        raise PlanChangedError(
            f"{refusal}; nobody approved the {args.env} environment's deployment in run "
            f"{settings.github_run_id}; refusing to apply",
            hint=f"add required reviewers to the {args.env} environment (Settings > Environments), re-run the "
            "deploy and approve it: that approves exactly the plan posted to the PR; or open a PR so the new plan "
            "is reviewed",
        )
    raise PlanChangedError(
        f"{refusal}; refusing to apply",
        hint="something changed since the review (another merge, drift, new inputs): approve the environment's "
        "deployment of this plan (deploy-check --approved-hash with required reviewers on the environment), or "
        "open a PR so the new plan is reviewed",
    )


def _accept(folder: planfolder.PlanFolder, accepted_as: str, message: str, **facts: Any) -> None:
    planfolder.write_accepted(folder, {"accepted_as": accepted_as, "detail": message, **facts})
    print(message)
