"""terraform/github-oidc: validates, applies against the emulator, and the roles trust exactly the
repository's PRs/default branch (plan) and its environments (apply)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from hubdeploy.infra import aws
from hubdeploy.infra.tfcli import run_terraform, terraform_env
from hubdeploy.settings import Settings
from tests.support.tools import CHECKOV, CHECKOV_INSTALL, require_tool

pytestmark = pytest.mark.terraform

ROOT = Path(__file__).resolve().parents[2] / "terraform" / "github-oidc"
ACCOUNT = "123456789012"  # moto's account
OVERRIDE = """
terraform {
  backend "local" {}
}
provider "aws" {
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = 2
  endpoints {
    iam = "%(url)s"
    sts = "%(url)s"
  }
}
"""
VARS = {
    "aws_account_id": ACCOUNT,
    "repository": "my-org/hubdeploy",
    "state_bucket": "hubdeploy-tfstate-123456789012-us-east-1",
    "artifact_bucket": "hubdeploy-artifacts-123456789012-us-east-1",
}


def work_copy(tmp_path: Path, url: str, variables: dict) -> Path:
    root = tmp_path / "github-oidc"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (root / "emulator_override.tf").write_text(OVERRIDE % {"url": url})
    (root / "test.auto.tfvars.json").write_text(json.dumps(variables))
    return root


def test_roles_trust_exactly_the_repository_and_its_environments(tmp_path, emulator, repo_root):
    root = work_copy(tmp_path, emulator.endpoint_url, VARS)
    env = terraform_env(repo_root, os.environ, emulator.aws_env())
    run_terraform(["init", "-input=false", "-no-color"], cwd=root, env=env)
    run_terraform(["apply", "-auto-approve", "-input=false", "-no-color"], cwd=root, env=env)
    outputs = json.loads(run_terraform(["output", "-json"], cwd=root, env=env).stdout)

    iam = aws.client("iam", Settings.from_env())
    plan = iam.get_role(RoleName="hubdeploy-github-plan")["Role"]
    apply = iam.get_role(RoleName="hubdeploy-github-apply")["Role"]
    assert outputs["github_variables"]["value"]["AWS_PLAN_ROLE_ARN"] == plan["Arn"]

    def subjects(role):
        found = []
        for statement in role["AssumeRolePolicyDocument"]["Statement"]:
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
            condition = statement["Condition"]
            assert condition["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
            for test in ("StringEquals", "StringLike"):
                sub = condition.get(test, {}).get("token.actions.githubusercontent.com:sub")
                if sub:
                    found += [f"{test}:{s}" for s in ([sub] if isinstance(sub, str) else sub)]
        return sorted(found)

    # the merge queue's temporary branches (gh-readonly-queue/main/pr-<n>-<sha>) plan too, by pattern, in a
    # statement of their own (conditions of one statement are ANDed)
    assert subjects(plan) == [
        "StringEquals:repo:my-org/hubdeploy:pull_request",
        "StringEquals:repo:my-org/hubdeploy:ref:refs/heads/main",
        "StringLike:repo:my-org/hubdeploy:ref:refs/heads/gh-readonly-queue/main/*",
    ]
    assert subjects(apply) == [
        f"StringEquals:repo:my-org/hubdeploy:environment:{e}" for e in ("dev", "prod", "staging")
    ]

    plan_policy = iam.get_role_policy(RoleName="hubdeploy-github-plan", PolicyName="plan")["PolicyDocument"]
    writes = {
        action: statement["Resource"]
        for statement in plan_policy["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.split(":")[1].startswith(("Put", "Delete", "Create", "Update", "Attach"))
    }
    # the plan role writes only artifacts (new keys), never the state or its lock file (its plans are --no-lock),
    # and deletes nothing
    assert "s3:DeleteObject" not in writes
    assert all("tfstate" not in str(resource) for resource in writes.values()), writes
    assert {a.split(":")[0] for a in writes} == {"s3"}

    apply_policy = iam.get_role_policy(RoleName="hubdeploy-github-apply", PolicyName="apply")["PolicyDocument"]
    iam_statements = [s for s in apply_policy["Statement"] if any(str(a).startswith("iam:") for a in s["Action"])]
    for statement in iam_statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        # never the github roles themselves: no self-escalation
        assert not any("github" in r or r.endswith("role/hubdeploy-*") for r in resources), statement

    # every role the apply role creates or re-grants must carry the stack boundary, which it cannot loosen
    boundary = "arn:aws:iam::123456789012:policy/hubdeploy-stack-boundary"
    by_sid = {statement["Sid"]: statement for statement in apply_policy["Statement"]}
    granting = by_sid["StackRolesWithTheBoundary"]
    assert {"iam:CreateRole", "iam:PutRolePolicy"} <= set(granting["Action"])
    assert granting["Condition"] == {"ArnEquals": {"iam:PermissionsBoundary": boundary}}
    allowed = {a for st in apply_policy["Statement"] if st["Effect"] == "Allow" for a in st["Action"]}
    assert not allowed & {"iam:AttachRolePolicy", "iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion"}
    assert by_sid["NeverWithoutTheBoundary"]["Effect"] == "Deny"
    assert "iam:DeleteRolePermissionsBoundary" in by_sid["NeverLoosenTheBoundary"]["Action"]
    # a prod apply (blue/green bake up to an hour, plus build and publish) fits in one session
    assert plan["MaxSessionDuration"] == apply["MaxSessionDuration"] == 7200


def test_bad_inputs_fail_at_plan_with_the_validation_message(tmp_path, emulator, repo_root):
    bad = {**VARS, "repository": "not a repo", "environments": ["qa"], "max_session_duration": 600}
    root = work_copy(tmp_path, emulator.endpoint_url, bad)
    env = terraform_env(repo_root, os.environ, emulator.aws_env())
    run_terraform(["init", "-input=false", "-no-color"], cwd=root, env=env)
    proc = run_terraform(["plan", "-input=false", "-no-color"], cwd=root, env=env, check=False)
    assert proc.returncode == 1
    assert "repository must be owner/name" in proc.stderr
    assert "environments must be a non-empty subset of dev, staging, prod" in proc.stderr
    assert "max_session_duration must be between 3600 and 43200 seconds" in proc.stderr


@pytest.mark.lint
def test_checkov_passes_with_every_skip_justified(repo_root):
    import subprocess

    checkov = require_tool(CHECKOV, install=CHECKOV_INSTALL)
    proc = subprocess.run(
        [str(checkov), "-d", str(ROOT), "--quiet", "--compact", "--framework", "terraform", "--skip-download"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    skips = [line for p in ROOT.glob("*.tf") for line in p.read_text().splitlines() if "checkov:skip=" in line]
    assert skips and all(len(line.split(":", 2)[-1].strip()) > 20 for line in skips), "every skip says why"
