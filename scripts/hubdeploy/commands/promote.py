"""`hubdeploy promote SRC DST`: copy one env's model pin to the next (the PR diff is that one file)."""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import promotion
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="copy an env's model pin (a commit SHA) to the next env",
        description=f"Copy SRC's model pin to DST ({' -> '.join(ENVIRONMENTS)}). Only DST's "
        "model.auto.tfvars.json changes.",
    )
    parser.add_argument("source", metavar="SRC", help="environment to promote from, e.g. dev")
    parser.add_argument("target", metavar="DST", help="environment to promote to, e.g. staging")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    change = promotion.promote(settings, source=args.source, target=args.target)
    state = "promoted" if change.changed else "already at"
    print(
        f"{change.env}: {state} {change.pin.hub_model_id}@{change.pin.hub_revision} "
        f"(from {args.source}; was {change.previous or 'unpinned'})"
    )
    return 0
