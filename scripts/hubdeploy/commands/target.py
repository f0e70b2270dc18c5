"""`hubdeploy target --env ENV`: the env's AWS account, region, roles and buckets from the repository
variables (per-env names first), into GITHUB_ENV and step outputs for the job's later steps."""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.gitops import actions, targets
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "target",
        help="resolve an env's AWS account, region and roles from the repository variables",
        description="Read the workflow's toJSON(vars) (HUBDEPLOY_VARS): <ENV>_AWS_ACCOUNT_ID, <ENV>_AWS_REGION, "
        "<ENV>_AWS_PLAN_ROLE_ARN, <ENV>_AWS_APPLY_ROLE_ARN, <ENV>_HUBDEPLOY_STATE_BUCKET, "
        "<ENV>_HUBDEPLOY_ARTIFACT_BUCKET, each falling back to the name without <ENV>_. Writes AWS_REGION, "
        "TF_VAR_aws_account_id and the bucket names to GITHUB_ENV, and the step outputs region, account-id, "
        "plan-role and apply-role.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    target = targets.resolve(args.env, targets.parse_vars(settings.github_vars_json), repo_root=settings.repo_root)
    actions.set_env(settings, **target.environment())
    actions.set_outputs(settings, **target.outputs())
    for line in target.lines():
        print(line)
    return 0
