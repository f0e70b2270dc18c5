"""`hubdeploy apply --env ENV --plan-dir DIR`: apply the saved plan of a plan folder, after checking the
plan file is still the one whose hash the folder records (and that was compared by deploy-check)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.planhash import compare, plan_hash
from hubdeploy.infra import envroot
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="apply the saved plan of a plan folder",
        description="Apply DIR/tfplan, refusing if it no longer matches the hash in DIR/summary.json.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, required=True, metavar="DIR", help="folder written by hubdeploy plan")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    planfile = planfolder.check_planfile(folder)
    root = envroot.open_root(settings, args.env, initialise=False)
    compare(env=args.env, reviewed=folder.plan_hash, current=plan_hash(envroot.show_json(root, planfile.resolve())))
    envroot.apply(root, planfile.resolve())
    print(f"{args.env}: applied ({folder.summary.line()})")
    return 0
