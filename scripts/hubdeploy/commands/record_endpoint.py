"""`hubdeploy record-endpoint --env ENV --out FILE`: before an apply, record what the endpoint serves
(config + model definitions) so `hubdeploy rollback` can point it back."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import rollback
from hubdeploy.infra import aws
from hubdeploy.infra.envroot import read_outputs
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "record-endpoint",
        help="record the endpoint's current config before an apply (for rollback)",
        description="Write FILE with the endpoint's current endpoint config and model definitions.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="record file to write")
    parser.add_argument("--outputs-json", type=Path, default=None, metavar="FILE", help="saved terraform output -json")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    outputs = read_outputs(settings, args.env, args.outputs_json)
    name = outputs.get("endpoint_name") or None
    record = rollback.record_endpoint(aws.client("sagemaker", settings), env=args.env, endpoint_name=name)
    rollback.save_record(args.out, record)
    config = record["endpoint_config"]
    if config:
        print(f"{args.env}: {name} serves {config['EndpointConfigName']}; recorded in {args.out}")
    else:
        print(f"{args.env}: no endpoint yet (first deploy); recorded that in {args.out}")
    return 0
