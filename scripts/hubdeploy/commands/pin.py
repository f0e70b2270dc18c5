"""`hubdeploy pin --env ENV [--revision REF] [--model-id ID] [--no-resolve] | --remove`: pin a Hub commit for an
env, or remove its pin (an env without a pin is never planned or deployed: keep a destroyed env gone)."""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.gitops import promotion
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pin",
        help="resolve a Hub branch/tag to its commit SHA and write it as an env's model pin",
        description="Resolve REF of the model on the Hugging Face Hub to its full commit SHA and write it to "
        "terraform/envs/ENV/model.auto.tfvars.json, with the Hub's facts about that commit (licence, gated, the "
        "serving files' sizes and sha256) in terraform/envs/ENV/model.facts.json. With HF_HUB_OFFLINE=1 the local "
        "HF cache answers.",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--revision", metavar="REF", default=None, help="branch, tag or commit SHA (default: main)")
    parser.add_argument("--model-id", metavar="ID", default=None, help="Hub repo id (default: the env's current one)")
    parser.add_argument(
        "--no-resolve",
        action="store_true",
        help="write REF as given (dev only: a moving ref makes dev follow the branch)",
    )
    parser.add_argument(
        "--remove",
        action="store_true",
        help="delete the env's pin: CI then skips the env (after a destroy, keeps it from being recreated)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.remove:
        if args.revision or args.model_id or args.no_resolve:
            raise UsageError(
                "--remove takes no revision or model", hint=f"run: hubdeploy pin --env {args.env} --remove"
            )
        removed = promotion.unpin(settings, env=args.env)
        if removed is None:
            print(f"{args.env}: not pinned; nothing to remove")
        else:
            print(f"{args.env}: pin removed ({removed}); commit it: CI no longer plans or deploys {args.env}")
        return 0
    change = promotion.pin(
        settings, env=args.env, revision=args.revision, model_id=args.model_id, resolve=not args.no_resolve
    )
    rel = change.path.relative_to(settings.repo_root) if change.path.is_relative_to(settings.repo_root) else change.path
    via = (
        f" ({change.resolved_from})" if change.resolved_from and change.resolved_from != change.pin.hub_revision else ""
    )
    state = "pinned" if change.changed else "unchanged"
    print(f"{change.env}: {state} {change.pin.hub_model_id}@{change.pin.hub_revision}{via} in {rel}")
    return 0
