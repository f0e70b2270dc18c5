"""`hubdeploy rollback --env ENV --record FILE`: point the endpoint back at the recorded config and wait."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.gitops import rollback
from hubdeploy.infra import aws
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="point the endpoint back at the config recorded before the apply",
        description="Re-create the recorded config/model if deleted, UpdateEndpoint to it, wait for InService.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--record", type=Path, required=True, metavar="FILE", help="written by record-endpoint")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="max wait for InService")
    parser.add_argument("--poll", type=float, default=15.0, metavar="S", help="seconds between status checks")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    record = rollback.load_record(args.record)
    if record.get("env") != args.env:
        raise UsageError(
            f"{args.record} was recorded for {record.get('env')}, not {args.env}", hint="pass the right file"
        )
    print(f"{args.env}: rolling back {record.get('endpoint_name')} (recorded {record.get('recorded_at')})")
    result = rollback.rollback(aws.client("sagemaker", settings), record, timeout=args.timeout, poll=args.poll)
    for item in result.recreated:
        print(f"  re-created {item}")
    print(
        f"{args.env}: {result.endpoint_name} now serves {result.to_config} again "
        f"(was {result.from_config}; {result.seconds:.0f} s). Terraform state now differs: fix forward with a PR."
    )
    return 0
