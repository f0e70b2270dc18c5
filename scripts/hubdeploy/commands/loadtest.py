"""`hubdeploy loadtest --env ENV --users N --duration S`: many concurrent clients against the env's API.

Locust as a library (headless), authenticating as `hubdeploy smoke` does; prints requests/s, latency percentiles,
statuses and throttles, writes them as JSON, and exits 1 when more requests failed than --max-error-rate allows.
Locust (and gevent, which patches the standard library) is imported only here, once the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import LoadTestError
from hubdeploy.loadtest.options import LoadOptions
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="load-test the env's API with Locust: requests/s, p50/p95/p99, errors by status, throttles",
        description="Send POST /sentiment from N concurrent users for S seconds (or --max-requests, whichever first). "
        "Exit 1 when the share of failed requests exceeds --max-error-rate. Needs the loadtest extra.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--users", type=int, required=True, metavar="N", help="concurrent users (closed loop)")
    parser.add_argument("--duration", type=float, required=True, metavar="S", help="how long to send (seconds)")
    parser.add_argument(
        "--spawn-rate", type=float, default=None, metavar="R", help="users started per second (default: all at once)"
    )
    parser.add_argument("--max-requests", type=int, default=None, metavar="N", help="stop after sending N requests")
    parser.add_argument("--texts-per-request", type=int, default=1, metavar="K", help="texts in each request body")
    parser.add_argument(
        "--think-time", type=float, default=0.0, metavar="S", help="each user's pause between answer and next request"
    )
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per-request timeout (seconds)")
    parser.add_argument(
        "--max-error-rate", type=float, default=0.0, metavar="F", help="share of failed requests allowed (default 0)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="the JSON report (default .loadtest/ENV.json)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--outputs-json", type=Path, default=None, metavar="FILE", help="saved terraform output -json")
    where.add_argument("--local", action="store_true", help="the stack `hubdeploy local up` runs in this checkout")
    parser.set_defaults(handler=run)


def _options(args: argparse.Namespace, *, max_texts: int | None) -> LoadOptions:
    from hubdeploy.loadtest.options import load_options

    return load_options(
        users=args.users,
        duration=args.duration,
        spawn_rate=args.spawn_rate,
        max_requests=args.max_requests,
        texts_per_request=args.texts_per_request,
        think_time=args.think_time,
        timeout=args.timeout,
        max_error_rate=args.max_error_rate,
        max_texts=max_texts,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from hubdeploy.gitops.smoke import load_golden
    from hubdeploy.loadtest import locustrun, target

    locustrun.require_locust()  # before any token is fetched: a missing extra is the first thing to say
    _options(args, max_texts=None)  # bad numbers fail before terraform outputs are read
    where = (
        target.local_target(settings, args.env)
        if args.local
        else target.deployed_target(settings, args.env, args.outputs_json)
    )
    opts = _options(args, max_texts=where.max_texts)
    golden, _ = load_golden()
    bodies = locustrun.request_bodies([g.text for g in golden], opts.texts_per_request)
    print(
        f"load test of {args.env} (POST {where.url}, auth {where.mode}): {opts.users} users for {opts.duration:g} s"
        + (f" or {args.max_requests} requests" if args.max_requests else "")
        + f", {opts.texts_per_request} text(s) per request"
    )
    report = locustrun.run_load(where, opts, bodies)
    out = args.out or settings.repo_root / ".loadtest" / f"{args.env}.json"
    report.write(out)
    for line in report.lines():
        print("  " + line)
    print(f"  {'report':<11} {out}")
    if report.stopped_by == "timeout":
        raise LoadTestError(
            f"{args.env}: the load test did not stop within {opts.hard_timeout:.0f} s",
            hint="requests hang: lower --timeout, or check the API",
        )
    if report.requests == 0:
        raise LoadTestError(f"{args.env}: no request finished", hint="check the API URL and that it answers")
    if report.error_rate > opts.max_error_rate:
        worst = ", ".join(f"{status} x{n}" for status, n in report.error_statuses().items())
        raise LoadTestError(
            f"{args.env}: {report.errors} of {report.requests} requests failed ({report.error_rate:.2%}, "
            f"allowed {opts.max_error_rate:.2%}): {worst}",
            hint="see the problem lines above; fewer --users, or a bigger instance / more instances",
        )
    p95 = report.latency_ms["p95"]
    print(f"{args.env}: load test passed ({report.requests_per_s:.1f} requests/s, p95 {p95:.0f} ms)")
    return 0
