"""`hubdeploy pinned --env ENV`: is the env's model pinned? Workflows skip unpinned envs (staging and
prod start unpinned until a pin is promoted to them) instead of failing every PR.

Prints the answer and, in GitHub Actions, sets the step output `pinned=true|false`. A pin that is
present but invalid (malformed id, moving ref outside dev) is an error, not "unpinned".
"""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import actions
from hubdeploy.gitops.promotion import is_pinned
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pinned",
        help="say whether an env's model is pinned (step output pinned=true|false)",
        description="Exit 0 with pinned=true|false; exit 1 when the pin file is present but invalid.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    pinned = is_pinned(settings, args.env)
    print(f"{args.env}: {'pinned' if pinned else 'not pinned yet: skipping (pin dev, then promote)'}")
    actions.set_outputs(settings, pinned=pinned)
    return 0
