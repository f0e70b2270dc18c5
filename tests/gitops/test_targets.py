"""`hubdeploy target --env E`: one AWS account per environment, from the repository variables (toJSON(vars)):
per-env names first, then the shared ones; GITHUB_ENV and step outputs for the job's later steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubdeploy.cli import main
from hubdeploy.errors import UsageError
from hubdeploy.gitops import targets

pytestmark = pytest.mark.unit

DEV, PROD = "111111111111", "222222222222"


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


SHARED = {
    "AWS_ACCOUNT_ID": DEV,
    "AWS_PLAN_ROLE_ARN": role(DEV, "hubdeploy-plan"),
    "AWS_APPLY_ROLE_ARN": role(DEV, "hubdeploy-apply"),
}
PER_ENV_PROD = {
    "PROD_AWS_ACCOUNT_ID": PROD,
    "PROD_AWS_PLAN_ROLE_ARN": role(PROD, "prod-plan"),
    "PROD_AWS_APPLY_ROLE_ARN": role(PROD, "prod-apply"),
    "PROD_HUBDEPLOY_STATE_BUCKET": "prod-tfstate",
}


def resolve(env: str, variables: dict[str, str], repo_root: Path) -> targets.Target:
    return targets.resolve(env, targets.parse_vars(json.dumps(variables)), repo_root=repo_root)


def test_per_env_variables_win_over_the_shared_ones(repo_root: Path):
    target = resolve("prod", {**SHARED, **PER_ENV_PROD}, repo_root)
    assert target.outputs() == {
        "region": "us-east-1",
        "account_id": PROD,
        "plan_role": role(PROD, "prod-plan"),
        "apply_role": role(PROD, "prod-apply"),
    }
    assert target.account_id.source == "PROD_AWS_ACCOUNT_ID"
    assert target.environment() == {
        "AWS_REGION": "us-east-1",
        "TF_VAR_aws_account_id": PROD,
        "HUBDEPLOY_STATE_BUCKET": "prod-tfstate",
    }


def test_an_env_without_its_own_variables_falls_back_to_the_shared_ones(repo_root: Path):
    target = resolve("dev", {**SHARED, **PER_ENV_PROD}, repo_root)
    assert (target.account_id.value, target.account_id.source) == (DEV, "AWS_ACCOUNT_ID")
    assert target.plan_role.value == role(DEV, "hubdeploy-plan")
    # no bucket variable: the naming rule's default, not an empty value in GITHUB_ENV
    assert target.state_bucket is None and "HUBDEPLOY_STATE_BUCKET" not in target.environment()
    # the region comes from the env's terraform.tfvars when no variable sets it
    assert target.region.source == "terraform/envs/dev/terraform.tfvars"


def test_variable_names_are_case_insensitive_as_on_github(repo_root: Path):
    variables = {k.lower(): v for k, v in PER_ENV_PROD.items()} | {"Prod_Aws_Region": "us-east-1"}
    target = resolve("prod", variables, repo_root)
    assert target.account_id.value == PROD and target.region.source == "PROD_AWS_REGION"


def test_an_empty_per_env_value_falls_back(repo_root: Path):
    target = resolve("dev", {**SHARED, "DEV_AWS_ACCOUNT_ID": ""}, repo_root)
    assert target.account_id.source == "AWS_ACCOUNT_ID"


def test_a_missing_account_names_both_variables_tried(repo_root: Path):
    variables = {k: v for k, v in SHARED.items() if k != "AWS_ACCOUNT_ID"}
    with pytest.raises(UsageError) as caught:
        resolve("staging", variables, repo_root)
    line = caught.value.one_line()
    assert "STAGING_AWS_ACCOUNT_ID" in line and " or AWS_ACCOUNT_ID" in line


def test_a_missing_apply_role_names_both_variables_tried(repo_root: Path):
    variables = {k: v for k, v in SHARED.items() if k != "AWS_APPLY_ROLE_ARN"}
    with pytest.raises(UsageError, match="DEV_AWS_APPLY_ROLE_ARN or AWS_APPLY_ROLE_ARN"):
        resolve("dev", variables, repo_root)


def test_a_role_of_another_account_is_refused(repo_root: Path):
    # prod's account set, but its plan role falls back to the shared (dev) one: the mistake this guards against
    variables = {**SHARED, "PROD_AWS_ACCOUNT_ID": PROD}
    with pytest.raises(UsageError, match=f"AWS_PLAN_ROLE_ARN is a role in account {DEV}, but prod's account is {PROD}"):
        resolve("prod", variables, repo_root)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"AWS_ACCOUNT_ID": "12345"}, "is not a 12-digit AWS account id"),
        ({"AWS_PLAN_ROLE_ARN": "hubdeploy-plan"}, "is not an IAM role ARN"),
        ({"DEV_AWS_REGION": "eu-west-1"}, "DEV_AWS_REGION is eu-west-1 but terraform/envs/dev/terraform.tfvars"),
        ({"HUBDEPLOY_ARTIFACT_BUCKET": "Not_A_Bucket"}, "is not an S3 bucket name"),
    ],
)
def test_malformed_values_are_one_clear_error(repo_root: Path, extra: dict[str, str], message: str):
    with pytest.raises(UsageError, match=message):
        resolve("dev", {**SHARED, **extra}, repo_root)


def test_vars_json_missing_or_not_an_object_says_how_to_pass_it():
    with pytest.raises(UsageError, match="HUBDEPLOY_VARS is not set") as caught:
        targets.parse_vars(None)
    assert "HUBDEPLOY_VARS: ${{ toJSON(vars) }}" in caught.value.hint
    with pytest.raises(UsageError, match="not a JSON object"):
        targets.parse_vars("[1]")


def test_command_writes_github_env_and_step_outputs(repo_root: Path, tmp_path: Path, monkeypatch, capsys):
    env_file, out_file = tmp_path / "github_env", tmp_path / "github_output"
    monkeypatch.setenv("HUBDEPLOY_ROOT", str(repo_root))
    monkeypatch.setenv("HUBDEPLOY_VARS", json.dumps({**SHARED, **PER_ENV_PROD}))
    monkeypatch.setenv("GITHUB_ENV", str(env_file))
    monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
    assert main(["target", "--env", "prod"]) == 0
    assert env_file.read_text().splitlines() == [
        "AWS_REGION=us-east-1",
        f"TF_VAR_aws_account_id={PROD}",
        "HUBDEPLOY_STATE_BUCKET=prod-tfstate",
    ]
    assert out_file.read_text().splitlines() == [
        "region=us-east-1",
        f"account-id={PROD}",
        f"plan-role={role(PROD, 'prod-plan')}",
        f"apply-role={role(PROD, 'prod-apply')}",
    ]
    assert f"prod: account {PROD} (from PROD_AWS_ACCOUNT_ID)" in capsys.readouterr().out


def test_command_without_vars_is_one_line_and_exit_1(repo_root: Path, monkeypatch, capsys):
    monkeypatch.setenv("HUBDEPLOY_ROOT", str(repo_root))
    monkeypatch.delenv("HUBDEPLOY_VARS", raising=False)
    assert main(["target", "--env", "dev"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HUBDEPLOY_VARS is not set" in err[0]
