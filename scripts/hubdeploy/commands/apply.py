"""`hubdeploy apply --env ENV --plan-dir DIR`: apply the saved plan of a plan folder, after checking the
plan file is still the one whose hash the folder records (and that was compared by deploy-check).

Applied or failed, it writes DIR/deploy-record.json (`hubdeploy.gitops.deployrecord`: commit, PR, plan hash,
what deploy-check accepted it as, model, endpoint config before/after, run) and appends it to the job summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import HubdeployError
from hubdeploy.gitops import actions, deployrecord, planfolder
from hubdeploy.gitops.planhash import compare, plan_hash
from hubdeploy.infra import envroot
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

ENDPOINT_RECORD = "previous-endpoint.json"  # where the deploy workflow's record-endpoint step writes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="apply the saved plan of a plan folder (and write its deploy record)",
        description="Apply DIR/tfplan, refusing if it no longer matches the hash in DIR/summary.json; "
        "write DIR/deploy-record.json.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, required=True, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument(
        "--endpoint-record",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"record-endpoint's file: the config served before (default: DIR/{ENDPOINT_RECORD} if present)",
    )
    parser.set_defaults(handler=run)


def _config_before(path: Path) -> str | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    config = record.get("endpoint_config") if isinstance(record, dict) else None
    return str(config["EndpointConfigName"]) if isinstance(config, dict) and config.get("EndpointConfigName") else None


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    planfile = planfolder.check_planfile(folder)
    root = envroot.open_root(settings, args.env, initialise=False)
    compare(env=args.env, reviewed=folder.plan_hash, current=plan_hash(envroot.show_json(root, planfile.resolve())))
    before = _config_before(args.endpoint_record or folder.path / ENDPOINT_RECORD)

    def record(result: str, *, error: str | None = None, after: str | None = None) -> None:
        built = deployrecord.build(
            folder,
            commit=settings.git_commit,
            run_url=settings.github_run_url,
            result=result,
            error=error,
            config_before=before,
            config_after=after,
        )
        path = deployrecord.write(folder, built)
        actions.append_summary(settings, deployrecord.markdown(built))
        print(f"{args.env}: deploy record in {path} (accepted as {built['accepted_as']})")

    try:
        envroot.apply(root, planfile.resolve())
    except HubdeployError as exc:
        record("failed", error=exc.one_line())
        raise
    after: str | None = None
    try:  # what the endpoint serves now: known only after apply (configs are named by a prefix)
        after = str(envroot.output_json(root).get("endpoint_config_name") or "") or None
    except HubdeployError as exc:
        log.warning("%s: applied, but the outputs could not be read: %s", args.env, exc.message)
    record("applied", after=after)
    print(f"{args.env}: applied ({folder.summary.line()})")
    return 0
