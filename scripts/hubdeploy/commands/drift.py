"""`hubdeploy drift --env ENV --out DIR [--no-issue]`: what changed in ENV outside Terraform (a refresh-only
plan) and what is merged but not applied yet (a normal plan), both lock-free. Drift opens (or updates) the env's
one drift issue; when only undeployed changes or nothing remain, the issue is closed.

DIR gets the normal plan folder (what a deploy of this commit would apply), DIR/refresh-only the refresh-only
plan folder, and DIR/drift.json the report (values masked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.gitops import actions, drift, planfolder
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.infra import envroot
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="report changes made outside Terraform (drift issue) and undeployed changes",
        description="Plan ENV twice without the state lock: refresh-only (changes made outside Terraform: "
        "open or update the env's drift issue) and normal (undeployed changes: merged, not applied yet; listed, "
        "never an issue on their own). No drift closes the issue.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan folder to write")
    parser.add_argument("--no-issue", action="store_true", help="only report; do not touch GitHub issues")
    parser.add_argument("--label", default=drift.LABEL, help="label of drift issues")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    root = envroot.open_root(settings, args.env)
    commit = planfolder.current_commit(settings)
    # speculative plans: no lock taken, so a cancelled nightly run leaves none behind and never waits for a deploy
    refreshed, refresh_doc = planfolder.write_plan_folder(
        root, args.out / drift.REFRESH_ONLY_DIR, commit=commit, lock=False, refresh_only=True
    )
    folder, plan_doc = planfolder.write_plan_folder(root, args.out, commit=commit, lock=False)
    report = drift.analyse(
        refresh_doc, plan_doc, env=args.env, commit=commit, plan_hash=folder.plan_hash, refresh_text=refreshed.text
    )
    atomic_write_json(args.out / drift.REPORT_FILE, report.to_json())
    actions.append_summary(
        settings, drift.render_summary(report, run_url=settings.github_run_url, plan_text=folder.text)
    )
    actions.set_outputs(
        settings,
        drift=report.has_drift,
        undeployed=bool(report.undeployed),
        plan_hash=folder.plan_hash,
        has_changes=folder.summary.has_changes,
    )
    print(f"{args.env}: {report.line()}")
    for item in report.drifted:
        print(f"  changed outside Terraform: {item.address}: " + _attributes(item))
    for change in report.undeployed:
        print(f"  undeployed (merged, not applied yet): {change.address} ({change.verb})")
    if not args.no_issue:
        client = GitHubClient.from_settings(settings)
        print(f"{args.env}: {drift.sync_issue(client, report, label=args.label, run_url=settings.github_run_url)}")
    return 0


def _attributes(item: drift.Drifted) -> str:
    if item.action == "deleted":
        return "deleted"
    return ", ".join(f"{a.path} {a.before} -> {a.after}" for a in item.attributes)
