"""`hubdeploy pinned --env ENV [--no-gates]`: is the env's model pinned, and may it go there? Workflows skip
unpinned envs (staging and prod start unpinned until a pin is promoted to them) instead of failing every PR.

Prints the answer and, in GitHub Actions, sets the step output `pinned=true|false`. A pin that is
present but invalid (malformed id, moving ref outside dev) is an error, not "unpinned". A pinned env's model
must pass the env's gates in model-gates.toml (its licence, from the facts `hubdeploy pin` recorded): this is
the first step of a PR's plan job and of the deploy gate, so a licence outside the list fails the PR check,
naming it. `--no-gates` (drift checks) reports the pin only: what is deployed is compared whatever the policy.
"""

from __future__ import annotations

import argparse

from hubdeploy import gates
from hubdeploy.envs import ENVIRONMENTS, read_pin
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
    parser.add_argument(
        "--no-gates", dest="gates", action="store_false", help="do not check model-gates.toml (drift checks)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    pinned = is_pinned(settings, args.env)
    if pinned and args.gates:
        for line in gates.check_pinned(settings.repo_root, args.env, read_pin(settings.repo_root, args.env)):
            print(line)
    print(f"{args.env}: {'pinned' if pinned else 'not pinned yet: skipping (pin dev, then promote)'}")
    actions.set_outputs(settings, pinned=pinned)
    return 0
