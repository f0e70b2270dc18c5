"""`hubdeploy deploy-check --env ENV --plan-dir DIR [--reviewed-hash H]`: refuse to deploy a plan that
differs from the one reviewed on the PR.

Without --reviewed-hash, the reviewed hash is read from the env's sticky comment on the PR that the
commit (GITHUB_SHA) came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import TerraformError
from hubdeploy.gitops import planfolder, review
from hubdeploy.gitops.planhash import check_hash, compare
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deploy-check",
        help="compare a plan folder's hash with the plan reviewed on the PR",
        description="Exit 1 with a clear message when the plan about to be applied is not the reviewed one.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, required=True, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument(
        "--reviewed-hash", default=None, metavar="HASH", help="the reviewed hash (default: from the PR)"
    )
    parser.add_argument("--commit", default=None, help="commit whose PR to look up (default: GITHUB_SHA)")
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="workflow that posted the PR comment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    if args.reviewed_hash:
        reviewed, source = check_hash(args.reviewed_hash), "--reviewed-hash"
    else:
        commit = args.commit or settings.git_commit
        if not commit:
            raise TerraformError("no commit to look up", hint="pass --commit SHA or --reviewed-hash HASH")
        if not folder.summary.has_changes:
            print(f"{args.env}: no changes to apply; nothing to compare")
            return 0
        reviewed, number = review.reviewed_hash_from_pr(settings, env=args.env, commit=commit, workflow=args.workflow)
        source = f"PR #{number}"
    compare(env=args.env, reviewed=reviewed, current=folder.plan_hash)
    print(f"{args.env}: the plan is the one reviewed ({source}, {folder.plan_hash})")
    return 0
