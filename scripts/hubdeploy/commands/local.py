"""`hubdeploy local up|status|down`: the whole pipeline on this machine against an emulated AWS."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.local.layout import Paths
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the pipeline locally: emulated AWS, real Terraform root, local endpoint + API",
        description="up: emulator -> bootstrap -> fetch -> build -> publish -> terraform plan/apply (the real env "
        "root against the emulator) -> serve the endpoint and the API on 127.0.0.1 -> ask sample sentences. "
        "status: what runs where (+ a ready auth header). down: stop everything `up` started.",
    )
    sub = parser.add_subparsers(dest="local_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start (or refresh) the local stack; idempotent")
    up.add_argument("--env", default="dev", choices=ENVIRONMENTS, help="environment root to apply (default: dev)")
    up.add_argument("--api-port", type=int, default=0, metavar="PORT", help="local API port (default: any free one)")
    up.add_argument(
        "--runtime-port", type=int, default=0, metavar="PORT", help="SageMaker runtime port (default: free)"
    )
    up.add_argument("--emulator-port", type=int, default=0, metavar="PORT", help="moto_server port (default: free)")
    up.add_argument("--no-samples", action="store_true", help="do not send the sample sentences")
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops everything")
    status = sub.add_parser("status", help="what runs where; exit 1 when the stack is not fully up")
    status.add_argument("--json", action="store_true", help="machine-readable (api_url, runtime_url, auth_header, ...)")
    down = sub.add_parser("down", help="stop the emulator and the local servers, remove pid files")
    down.add_argument("--purge", action="store_true", help="also delete .local/ (caches, stand-in models, builds)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from hubdeploy.local import status as local_status
    from hubdeploy.local import up as local_up

    if args.local_command == "up":
        try:
            local_up.up(
                settings,
                env=args.env,
                api_port=args.api_port,
                runtime_port=args.runtime_port,
                emulator_port=args.emulator_port,
                samples=not args.no_samples,
            )
        except KeyboardInterrupt:
            print("interrupted: stopping what `up` started")
            local_status.down(settings)
            raise
        if args.foreground:
            local_status.wait_foreground(settings)
        return 0
    if args.local_command == "status":
        info = local_status.status_of(settings, Paths.of(settings.repo_root))
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            print_status(info)
        return 0 if info["running"] else 1
    local_status.down(settings, purge=args.purge)
    return 0


def print_status(info: dict[str, Any]) -> None:
    if not info["env"]:
        print("the local stack is not running (start it: hubdeploy local up)")
        return
    print(f"local stack for {info['env']}: {'UP' if info['running'] else 'DOWN'}")
    keys: tuple[str, ...] = ("api_url", "runtime_url", "aws_endpoint_url", "token_url", "auth_mode", "endpoint_name")
    keys += ("hub_model_id", "hub_revision", "model_source", "artifact_sha256", "model_data_url", "logs")
    for key in keys:
        if info.get(key):
            print(f"  {key:<17} {info[key]}")
    if info.get("auth_header"):
        print(f"  Authorization:    {info['auth_header'][:40]}... (full value: hubdeploy local status --json)")
    for problem in info.get("problems", []):
        print(f"  problem: {problem}")
