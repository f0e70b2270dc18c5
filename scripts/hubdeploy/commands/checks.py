"""`hubdeploy checks --needs-json JSON`: the PR workflow's one required check ("hubdeploy result").

Exit 0 when every job it needs succeeded (a fork PR's skipped plans count as expected, with a note in the job
summary and a notice on the PR's checks), else 1 naming the jobs that did not.
"""

from __future__ import annotations

import argparse

from hubdeploy.gitops import actions, checks
from hubdeploy.log import annotate
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "checks",
        help="the PR workflow's required check: did every needed job pass (fork PRs: tests only)",
        description="Read the workflow's toJSON(needs) and pass only when every needed job succeeded.",
    )
    parser.add_argument("--needs-json", required=True, metavar="JSON", help="the workflow's ${{ toJSON(needs) }}")
    parser.set_defaults(handler=run)


def from_fork(settings: Settings) -> bool:
    """True for a pull_request event whose head repository is not this one."""
    pull = actions.event_payload(settings).get("pull_request") or {}
    head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    return bool(head) and head != settings.github_repository


def run(args: argparse.Namespace, settings: Settings) -> int:
    fork = from_fork(settings)
    result = checks.verdict(checks.parse_needs(args.needs_json), from_fork=fork)
    summary = ["### hubdeploy result", "", *[f"- {line}" for line in result.lines]]
    if fork:
        summary += ["", f"> {checks.FORK_NOTE}"]
        annotate("notice", checks.FORK_NOTE)
    actions.append_summary(settings, "\n".join(summary) + "\n")
    print("\n".join(result.lines))
    if not result.ok:
        failed = [line for line in result.lines if line.startswith("❌")]
        print(f"hubdeploy result: {len(failed)} job(s) did not pass; open them in this run for the reason")
        return 1
    print("hubdeploy result: passed")
    return 0
