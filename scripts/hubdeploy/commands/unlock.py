"""`hubdeploy unlock --env ENV --lock-id ID`: remove a stale state lock (`terraform force-unlock`).

A run that was killed before terraform could release the lock (a runner lost, `kill -9`) leaves the S3
lock file behind; every locked plan, apply and destroy of that env then fails after its lock timeout,
naming the lock and this command. Use it only when no run of that env is in progress: removing the
lock of a running apply lets two runs write the state at once.
"""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.infra import envroot, statelock
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "unlock",
        help="remove a stale state lock (only when no run of the env is in progress)",
        description=(
            "Initialise the env root and run `terraform force-unlock -force ID`. Only for a lock no running "
            "terraform holds: a locked plan names the holder, its start time and the ID."
        ),
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--lock-id", required=True, metavar="ID", help="the lock ID a failed locked run printed")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    root = envroot.open_root(settings, args.env)
    statelock.force_unlock(root, args.lock_id)
    print(f"{args.env}: state lock {args.lock_id} removed")
    return 0
