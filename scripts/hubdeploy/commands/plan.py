"""`hubdeploy plan --env ENV --out DIR [--destroy] [--no-lock]`: init, plan, and write the plan folder.

The folder holds tfplan, plan.txt and summary.json (counts, model table, warnings, plan hash). In
GitHub Actions it also appends the full plan to the job summary and sets the step outputs
`plan-hash` and `has-changes`.

By default the plan takes the state lock, waiting up to HUBDEPLOY_LOCK_TIMEOUT (10m) for another run
to release it: the plan a deploy applies must not race another apply. `--no-lock` is for speculative
plans (a PR's, the deploy gate's), which are reviewed, never applied: they neither wait for the lock
nor leave one behind when their run is cancelled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.comment import model_table_md
from hubdeploy.infra import envroot
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="terraform plan for an env into a plan folder (summary, hash, text)",
        description="Initialise the env root, plan, and write DIR/{tfplan,plan.txt,summary.json}.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan folder to write")
    parser.add_argument("--destroy", action="store_true", help="plan a destroy of the whole env")
    parser.add_argument(
        "--no-lock",
        dest="lock",
        action="store_false",
        help="speculative plan (PR, review): do not take or wait for the state lock; never apply its plan file",
    )
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="workflow name shown in summaries")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    root = envroot.open_root(settings, args.env)
    folder, _doc = planfolder.write_plan_folder(
        root, args.out, commit=planfolder.current_commit(settings), destroy=args.destroy, lock=args.lock
    )
    planfolder.publish_to_actions(settings, folder, workflow=args.workflow)
    print(f"{args.env}: {folder.summary.line()}")
    for warning in folder.summary.warnings:
        print(f"WARNING: {warning.text()}")
    if folder.summary.model:
        print(model_table_md(folder.summary))
    print(f"plan hash {folder.plan_hash}; plan folder {args.out}")
    return 0
