"""`hubdeploy destroy-guard --env ENV --confirm TEXT [--allow-prod true|false] [--destroyed]`: the checks a
destroy must pass before anything is planned: the typed confirmation equals the env, and prod needs the flag.
With --destroyed (after the destroy): say what is left, the env's pin, and how to keep the env gone."""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import actions, destroyguard
from hubdeploy.gitops.promotion import is_pinned
from hubdeploy.log import warn
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "destroy-guard",
        help="validate a destroy request: typed confirmation == env, prod needs --allow-prod",
        description="Exit 1 unless --confirm equals --env (and, for prod, --allow-prod is true).",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--confirm", required=True, metavar="TEXT", help="must be exactly the env name")
    parser.add_argument(
        "--allow-prod",
        nargs="?",
        const="true",
        default="false",
        choices=("true", "false"),
        help="required (true) to destroy prod",
    )
    parser.add_argument("--destroyed", action="store_true", help="after the destroy: report the pin that is left")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    destroyguard.check_destroy(args.env, args.confirm, allow_prod=args.allow_prod == "true")
    if not args.destroyed:
        print(f"{args.env}: destroy confirmed")
        return 0
    pinned = is_pinned(settings, args.env)
    note = destroyguard.after_destroy_note(settings.repo_root, args.env, pinned=pinned)
    print(note)
    actions.append_summary(settings, f"### {args.env} destroyed\n\n{note}\n")
    if pinned:
        warn(note, title=f"{args.env} is still pinned")
    return 0
