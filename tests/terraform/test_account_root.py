"""terraform/account, the one-time account root: it validates, applies against the strict emulator with
`hubdeploy.infra.accountroot`, is a no-op the second time, and is what lets a stage log: before it, the
emulator refuses stage logging exactly as AWS does. The env roots no longer manage the account setting."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.dev import tfdocs
from hubdeploy.infra import accountroot
from hubdeploy.infra.bootstrap import bootstrap
from hubdeploy.infra.tfcli import run_terraform, terraform_env
from hubdeploy.settings import Settings

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = REPO / "terraform" / "account"
REGION = "us-east-1"


def test_the_account_root_has_the_root_layout_and_a_generated_readme():
    assert {p.name for p in ACCOUNT.glob("*.tf")} >= {"versions.tf", "providers.tf", "variables.tf", "main.tf"}
    assert (ACCOUNT / "outputs.tf").is_file() and (ACCOUNT / ".terraform.lock.hcl").is_file()
    assert 'key          = "account/terraform.tfstate"' in (ACCOUNT / "backend.tf").read_text()
    assert accountroot.STATE_KEY == "account/terraform.tfstate"
    readme = ACCOUNT / "README.md"
    assert readme.read_text() == tfdocs.updated_readme(readme, ACCOUNT), (
        "run python -m hubdeploy.dev.tfdocs terraform/account"
    )


def test_the_account_root_validates(tmp_path: Path):
    copy = tmp_path / "account"
    shutil.copytree(ACCOUNT, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf"))
    env = terraform_env(REPO, os.environ)
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=copy, env=env)
    result = json.loads(run_terraform(["validate", "-json", "-no-color"], cwd=copy, env=env, check=False).stdout)
    assert result["valid"] is True and result["warning_count"] == 0, result["diagnostics"]


def test_no_env_root_manages_an_account_wide_setting():
    # three environments each setting the region's CloudWatch role: the last apply wins, a destroy breaks the rest
    for folder in ("root", "modules/inference-api", "modules/sagemaker-endpoint", "envs"):
        for path in (REPO / "terraform" / folder).rglob("*.tf*"):
            text = path.read_text()
            assert 'resource "aws_api_gateway_account"' not in text, path
            assert "manage_api_gateway_account" not in text, path


def stage_with_logging(client: Any) -> None:
    """A REST API stage turning on access logs, as the inference-api module does."""
    api_id = client.create_rest_api(name="probe")["id"]
    root = next(r["id"] for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    client.create_stage(restApiId=api_id, stageName="v1", deploymentId=client.create_deployment(restApiId=api_id)["id"])
    destination = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/apigateway/probe/access"
    client.update_stage(
        restApiId=api_id,
        stageName="v1",
        patchOperations=[{"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination}],
    )


def test_apply_sets_the_cloudwatch_role_once_and_lets_stages_log(emulator, tmp_path: Path):
    apigw = boto3.client("apigateway", region_name=REGION, endpoint_url=emulator.endpoint_url)
    # given a new account: the strict emulator refuses stage logging, as AWS does
    with pytest.raises(ClientError, match="CloudWatch Logs role ARN must be set in account settings"):
        stage_with_logging(apigw)
    state = bootstrap(Settings.from_env()).state.name
    workdir = tmp_path / "account-work"
    kwargs = {"environ": os.environ, "endpoint_url": emulator.endpoint_url, "workdir": workdir}
    # when terraform/account is applied
    assert accountroot.ensure(REPO, **kwargs, state_bucket=state, region=REGION) is True
    # then the account points at its role, which carries API Gateway's logging policy
    role_arn = apigw.get_account()["cloudwatchRoleArn"]
    assert role_arn.endswith(":role/hubdeploy-apigw-logs-us-east-1")
    iam = boto3.client("iam", region_name=REGION, endpoint_url=emulator.endpoint_url)
    attached = iam.list_attached_role_policies(RoleName="hubdeploy-apigw-logs-us-east-1")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonAPIGatewayPushToCloudWatchLogs"]
    # its state lives under its own key, next to (never inside) the envs' keys
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=emulator.endpoint_url).list_objects_v2(Bucket=state)["Contents"]
    ]
    assert keys == ["account/terraform.tfstate"]
    # and stages may log now
    stage_with_logging(apigw)
    # a second run changes nothing (the local stack and the tests call it on every run)
    assert accountroot.ensure(REPO, **kwargs, state_bucket=state, region=REGION) is False
    # the checkout's own folder was never touched (the override lives in the work copy only)
    assert not list(ACCOUNT.glob("*_override.tf")) and not (ACCOUNT / ".terraform").exists()
