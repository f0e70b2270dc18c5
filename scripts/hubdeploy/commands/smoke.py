"""`hubdeploy smoke --env ENV [--expect-labels] [--latency-budget-ms MS]`: test the deployed API.

Reads the env's terraform outputs (api_url, endpoint_name, endpoint_config_name, auth), gets a token
for the auth mode, calls POST {api_url}/sentiment with golden financial sentences, and checks the
answers, latency, that anonymous calls are refused, and that the endpoint serves the applied config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import SmokeError
from hubdeploy.gitops import auth, smoke
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "smoke",
        help="call the deployed API with golden sentences; check answers, latency, auth and endpoint config",
        description="Smoke-test a deployed environment. Exit 1 when any check fails.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        "--expect-labels", action="store_true", help="require the golden labels (the real model; not a stand-in)"
    )
    labels.add_argument("--shape-only", action="store_true", help="check answers' shape only (the default)")
    parser.add_argument(
        "--min-accuracy", type=float, default=1.0, metavar="F", help="share of golden labels that must match"
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=120.0, metavar="S", help="retry a cold API (502/503/504) this long"
    )
    parser.add_argument("--latency-budget-ms", type=float, default=3000.0, metavar="MS", help="slowest allowed request")
    parser.add_argument("--requests", type=int, default=5, metavar="N", help="single-text requests for latency")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per-request timeout (seconds)")
    parser.add_argument("--golden", type=Path, default=None, metavar="FILE", help="golden sentences JSON")
    parser.add_argument("--outputs-json", type=Path, default=None, metavar="FILE", help="saved terraform output -json")
    parser.add_argument("--skip-endpoint-check", action="store_true", help="do not call DescribeEndpoint")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    target = smoke.deployed_target(settings, args.env, args.outputs_json)
    golden, labels = smoke.load_golden(args.golden)
    sagemaker = None
    if not args.skip_endpoint_check:
        from hubdeploy.infra import aws

        sagemaker = aws.client("sagemaker", settings)
    report = smoke.run_smoke(
        target,
        authorizer=auth.authorizer_for(target.access, settings),
        golden=golden,
        labels=labels,
        expect_labels=args.expect_labels,
        latency_budget_ms=args.latency_budget_ms,
        requests=args.requests,
        timeout=args.timeout,
        sagemaker=sagemaker,
        min_accuracy=args.min_accuracy,
        warmup_seconds=args.warmup_seconds,
    )
    print(f"smoke test of {args.env} ({target.api_url}/sentiment, auth {target.mode}):")
    for line in report.lines():
        print("  " + line)
    if not report.ok:
        failed = [c.name for c in report.checks if not c.ok]
        raise SmokeError(
            f"{args.env}: smoke test failed: {', '.join(failed)}",
            hint=f"see the checks above; roll back with: hubdeploy rollback --env {args.env} --record FILE",
        )
    print(f"{args.env}: smoke test passed")
    return 0
