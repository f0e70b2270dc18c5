"""Which AWS account, region, roles and buckets an environment's jobs use: one AWS account per environment.

The workflows pass the repository's configuration variables as JSON (`HUBDEPLOY_VARS: ${{ toJSON(vars) }}`).
For env `dev`, each value is looked up under its per-env name first (`DEV_AWS_ACCOUNT_ID`), then under the
shared one (`AWS_ACCOUNT_ID`), so a single-account setup needs only the shared names and a multi-account one
overrides them per env. GitHub compares variable names case-insensitively (it stores them upper-case), and so
does this lookup:
https://docs.github.com/en/actions/how-tos/write-workflows/choose-what-workflows-do/use-variables#naming-conventions-for-configuration-variables

The region falls back to the env's `aws_region` in terraform/envs/<env>/terraform.tfvars (the provider's
region), and a variable that disagrees with that file is refused: the CLI (S3, STS, SageMaker calls) and
Terraform must work in the same region. Roles must be IAM role ARNs in the env's account: a role of another
account is what a copy-pasted variable of another env looks like.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hubdeploy.envs import check_env, env_dir
from hubdeploy.errors import UsageError
from hubdeploy.infra.envvalues import configured_region
from hubdeploy.settings import ARTIFACT_BUCKET_VAR, STATE_BUCKET_VAR, VARS_JSON_VAR

ACCOUNT = "AWS_ACCOUNT_ID"
REGION = "AWS_REGION"
PLAN_ROLE = "AWS_PLAN_ROLE_ARN"
APPLY_ROLE = "AWS_APPLY_ROLE_ARN"
STATE_BUCKET = STATE_BUCKET_VAR
ARTIFACT_BUCKET = ARTIFACT_BUCKET_VAR
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html (IAM role ARN; path optional)
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+$")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (general purpose buckets)
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION_NAME = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


@dataclass(frozen=True)
class Found:
    """One value and the variable it came from (`tfvars` for the env's terraform.tfvars)."""

    value: str
    source: str


@dataclass(frozen=True)
class Target:
    """Where an env's jobs act."""

    env: str
    account_id: Found
    region: Found
    plan_role: Found
    apply_role: Found
    state_bucket: Found | None = None  # None: the naming rule's default (hubdeploy.infra.naming)
    artifact_bucket: Found | None = None

    def environment(self) -> dict[str, str]:
        """The variables later steps need (GITHUB_ENV): the region, the account Terraform may touch, buckets."""
        values = {"AWS_REGION": self.region.value, "TF_VAR_aws_account_id": self.account_id.value}
        if self.state_bucket:
            values[STATE_BUCKET_VAR] = self.state_bucket.value
        if self.artifact_bucket:
            values[ARTIFACT_BUCKET_VAR] = self.artifact_bucket.value
        return values

    def outputs(self) -> dict[str, str]:
        """Step outputs for configure-aws-credentials: region, account-id, plan-role, apply-role."""
        return {
            "region": self.region.value,
            "account_id": self.account_id.value,
            "plan_role": self.plan_role.value,
            "apply_role": self.apply_role.value,
        }

    def lines(self) -> list[str]:
        """What the command prints: each value and where it came from."""
        found = [
            ("account", self.account_id),
            ("region", self.region),
            ("plan role", self.plan_role),
            ("apply role", self.apply_role),
            ("state bucket", self.state_bucket),
            ("artifact bucket", self.artifact_bucket),
        ]
        return [
            f"{self.env}: {label} {item.value} (from {item.source})"
            if item
            else f"{self.env}: {label} (default name: hubdeploy.infra.naming)"
            for label, item in found
        ]


def parse_vars(text: str | None) -> dict[str, str]:
    """The workflow's `toJSON(vars)` as {UPPER-CASE NAME: value}.

    Raises:
        UsageError: not set, not a JSON object, or two names that differ only in case.
    """
    if text is None:
        raise UsageError(
            f"{VARS_JSON_VAR} is not set: hubdeploy target reads the repository variables from it",
            hint=f"set it in the workflow step: env: {VARS_JSON_VAR}: ${{{{ toJSON(vars) }}}}",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{VARS_JSON_VAR} is not JSON ({exc.msg})", hint=f"pass ${{{{ toJSON(vars) }}}} as {VARS_JSON_VAR}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{VARS_JSON_VAR} is not a JSON object", hint=f"pass ${{{{ toJSON(vars) }}}} as {VARS_JSON_VAR}"
        )
    variables: dict[str, str] = {}
    for name, value in data.items():
        key = str(name).upper()
        if key in variables:
            raise UsageError(
                f"{VARS_JSON_VAR} names {key} twice (in different cases)",
                hint="GitHub variable names ignore case: keep one of them",
            )
        variables[key] = "" if value is None else str(value).strip()
    return variables


def lookup(variables: dict[str, str], env: str, name: str) -> Found | None:
    """`<ENV>_<name>` if set (non-empty), else `<name>`, else None."""
    for candidate in (f"{env.upper()}_{name}", name):
        value = variables.get(candidate.upper())
        if value:
            return Found(value, candidate)
    return None


def _tried(env: str, name: str) -> str:
    return f"{env.upper()}_{name} or {name}"


def _required(variables: dict[str, str], env: str, name: str, what: str) -> Found:
    found = lookup(variables, env, name)
    if found is None:
        raise UsageError(
            f"no {what} for {env}: neither {_tried(env, name)} is set",
            hint=f"add the repository variable {env.upper()}_{name} (Settings -> Secrets and variables -> Actions "
            f"-> Variables), or {name} for every env",
        )
    return found


def _role(variables: dict[str, str], env: str, name: str, what: str, account: Found) -> Found:
    role = _required(variables, env, name, what)
    match = ROLE_ARN.match(role.value)
    if match is None:
        raise UsageError(
            f"{role.source}={role.value!r} is not an IAM role ARN",
            hint="use the role ARN that terraform/github-oidc outputs (arn:aws:iam::<account>:role/<name>)",
        )
    if match.group(1) != account.value:
        raise UsageError(
            f"{role.source} is a role in account {match.group(1)}, but {env}'s account is {account.value} "
            f"(from {account.source})",
            hint=f"set {env.upper()}_{name} to {env}'s own role, or fix {account.source}",
        )
    return role


def _region(variables: dict[str, str], env: str, repo_root: Path) -> Found:
    found = lookup(variables, env, REGION)
    values_file = f"terraform/envs/{env}/terraform.tfvars"
    configured = configured_region(env_dir(repo_root, env))
    if found is None:
        if configured is None:
            raise UsageError(
                f"no AWS region for {env}: neither {_tried(env, REGION)} is set, nor aws_region in {values_file}",
                hint=f'set aws_region = "<region>" in {values_file}',
            )
        return Found(configured, values_file)
    if not REGION_NAME.match(found.value):
        raise UsageError(f"{found.source}={found.value!r} is not an AWS region name", hint="use e.g. us-east-1")
    if configured is not None and configured != found.value:
        raise UsageError(
            f"{found.source} is {found.value} but {values_file} deploys to {configured}",
            hint=f"make them agree (or remove {found.source}: the region then comes from {values_file})",
        )
    return found


def _bucket(variables: dict[str, str], env: str, name: str) -> Found | None:
    found = lookup(variables, env, name)
    if found is not None and not BUCKET_NAME.match(found.value):
        raise UsageError(f"{found.source}={found.value!r} is not an S3 bucket name", hint="fix or remove it")
    return found


def resolve(env: str, variables: dict[str, str], *, repo_root: Path) -> Target:
    """The env's target from the repository variables (per-env names first) and its terraform.tfvars.

    Raises:
        UsageError: a required value is missing (naming both variables tried) or malformed.
    """
    check_env(env)
    account = _required(variables, env, ACCOUNT, "AWS account id")
    if not ACCOUNT_ID.match(account.value):
        raise UsageError(f"{account.source}={account.value!r} is not a 12-digit AWS account id", hint="fix it")
    return Target(
        env=env,
        account_id=account,
        region=_region(variables, env, repo_root),
        plan_role=_role(variables, env, PLAN_ROLE, "plan role", account),
        apply_role=_role(variables, env, APPLY_ROLE, "apply role", account),
        state_bucket=_bucket(variables, env, STATE_BUCKET),
        artifact_bucket=_bucket(variables, env, ARTIFACT_BUCKET),
    )
