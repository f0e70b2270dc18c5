"""IAM proven, not asserted: the GitHub roles' policies are applied in the emulator (terraform/github-oidc, and
terraform/account for the stack boundary) and every call of a real publish, plan, apply, pin change and destroy
made with the roles' credentials is evaluated against them (hubdeploy.infra.emulator.authz: AWS's evaluation
logic, the resource ARNs and condition keys of each call). A missing permission fails the step that needs it,
with the message naming the action; an unmapped call fails too. The tests run in order and share one stack.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.artifacts.build import build
from hubdeploy.artifacts.publish import publish
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, artifacts_path, write_pin
from hubdeploy.errors import TerraformError
from hubdeploy.infra import envroot
from hubdeploy.infra.bootstrap import bootstrap
from hubdeploy.infra.emulator.override import OVERRIDE_FILE
from hubdeploy.infra.tfcli import run_terraform, terraform_env
from hubdeploy.settings import Settings

pytestmark = pytest.mark.terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
ENV = "dev"
ADMIN_OVERRIDE = """
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
    apigateway = "%(url)s"
    iam        = "%(url)s"
    sts        = "%(url)s"
  }
}
"""


@dataclass
class Proof:
    repo: Path
    url: str
    state_bucket: str
    artifact_bucket: str
    roles: dict[str, str]  # plan/apply -> role ARN
    work: Path
    artifacts: dict[str, Any] | None = None
    root: envroot.EnvRoot | None = None

    def credentials(self, role: str) -> dict[str, str]:
        sts = boto3.client("sts", region_name=REGION, endpoint_url=self.url)
        creds = sts.assume_role(RoleArn=self.roles[role], RoleSessionName=f"github-{role}")["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
        }

    def client(self, service: str, role: str | None = None) -> Any:
        keys = self.credentials(role) if role else {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )

    def authz(self, enforce: bool | None = None) -> dict[str, Any]:
        """The emulator's authorization report; switches enforcement on or off (clearing the log) when asked."""
        data = None if enforce is None else json.dumps({"enforce": enforce}).encode()
        request = urllib.request.Request(self.url + "/moto-api/hubdeploy/authz", data=data)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def publish_as(self, role: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        """`hubdeploy build` + `hubdeploy publish` with the role's credentials."""
        out = self.work / "build" / ENV
        shutil.rmtree(out, ignore_errors=True)
        build(Settings.from_env(), env=ENV, out_dir=out)
        with monkeypatch.context() as mp:
            for key, value in self.credentials(role).items():
                mp.setenv(key, value)
            publish(Settings.from_env(), env=ENV, artifacts_dir=out, bucket=self.artifact_bucket, commit="0" * 40)
        return json.loads(artifacts_path(self.repo, ENV).read_text())

    def env_root(self, role: str) -> envroot.EnvRoot:
        """terraform/root for dev, pointed at the emulator, its provider and backend signed with the role's keys."""
        root = envroot.prepare(self.repo, ENV, environ=os.environ, endpoint_url=self.url, workdir=self.work / "tf")
        keys = self.credentials(role)
        override = root.path / OVERRIDE_FILE
        text = override.read_text().replace(
            'access_key                  = "testing"', f'access_key = "{keys["AWS_ACCESS_KEY_ID"]}"'
        )
        text = text.replace(
            'secret_key                  = "testing"',
            f'secret_key = "{keys["AWS_SECRET_ACCESS_KEY"]}"\n    token      = "{keys["AWS_SESSION_TOKEN"]}"',
        )
        text = text.replace(
            '  secret_key                  = "testing"',
            f'  secret_key = "{keys["AWS_SECRET_ACCESS_KEY"]}"\n  token      = "{keys["AWS_SESSION_TOKEN"]}"',
        )
        override.write_text(text)
        assert text.count(keys["AWS_SESSION_TOKEN"]) == 2, "backend and provider both use the role's session"
        root.tf_env.update(keys)
        envroot.init(root, state_bucket=self.state_bucket, region=REGION)
        return root


def apply_as_admin(source: Path, work: Path, url: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Apply a one-time root (github-oidc, account) with administrator credentials; returns its outputs."""
    root = work / source.name
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (root / "emulator_override.tf").write_text(ADMIN_OVERRIDE % {"url": url})
    (root / "test.auto.tfvars.json").write_text(json.dumps(variables))
    env = terraform_env(REPO_ROOT, os.environ, {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing"})
    run_terraform(["init", "-input=false", "-no-color"], cwd=root, env=env)
    run_terraform(["apply", "-auto-approve", "-input=false", "-no-color"], cwd=root, env=env)
    outputs = json.loads(run_terraform(["output", "-json"], cwd=root, env=env).stdout)
    return {name: item["value"] for name, item in outputs.items()}


# Denials that are part of the normal flow: the AWS provider probes iam:GetUser to learn the account id and,
# refused (an assumed role is no IAM user), falls back to sts:GetCallerIdentity, as it does on AWS.
EXPECTED_DENIALS = ("not authorized to perform: iam:GetUser on resource: *",)


def denied(report: dict[str, Any]) -> str:
    """Every unexpected denial and every unmapped call, one a line ('' when there is none)."""
    unexpected = [d for d in report["denied"] if not any(e in d for e in EXPECTED_DENIALS)]
    return "\n".join(unexpected + report["unmapped"])


@pytest.fixture(scope="module")
def proof(emulator_session: Any, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Proof]:
    """Buckets, the GitHub roles and the account root applied by an administrator; enforcement on."""
    emulator_session.reset()
    work = tmp_path_factory.mktemp("iam-proof")
    repo = copy_checkout(REPO_ROOT, work / "repo")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in emulator_session.aws_env(REGION).items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("HUBDEPLOY_ROOT", str(repo))
        mp.setenv("HF_HUB_CACHE", str(work / "hf-cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv("HF_TOKEN", raising=False)
        mp.delenv("GITHUB_ACTIONS", raising=False)
        buckets = bootstrap(Settings.from_env())
        url = emulator_session.endpoint_url
        oidc = apply_as_admin(
            REPO_ROOT / "terraform" / "github-oidc",
            work,
            url,
            {
                "aws_account_id": ACCOUNT,
                "repository": "my-org/hubdeploy",
                "state_bucket": buckets.state.name,
                "artifact_bucket": buckets.artifacts.name,
            },
        )
        account = apply_as_admin(REPO_ROOT / "terraform" / "account", work, url, {"aws_account_id": ACCOUNT})
        assert account["stack_boundary_arn"] == f"arn:aws:iam::{ACCOUNT}:policy/hubdeploy-stack-boundary"
        revision = install_in_hf_cache(tiny_model_dir, work / "hf-cache", DEFAULT_HUB_MODEL_ID)
        write_pin(repo, ENV, ModelPin(DEFAULT_HUB_MODEL_ID, revision))
        state = Proof(
            repo=repo,
            url=url,
            state_bucket=buckets.state.name,
            artifact_bucket=buckets.artifacts.name,
            roles={"plan": oidc["plan_role_arn"], "apply": oidc["apply_role_arn"]},
            work=work,
        )
        state.authz(enforce=True)
        try:
            yield state
        finally:
            state.authz(enforce=False)


def test_the_plan_role_publishes_but_can_never_overwrite_or_delete(proof: Proof, monkeypatch: pytest.MonkeyPatch):
    proof.artifacts = proof.publish_as("plan", monkeypatch)
    assert not denied(proof.authz()), denied(proof.authz())
    key = proof.artifacts["model_data_url"].removeprefix(f"s3://{proof.artifact_bucket}/")
    s3 = proof.client("s3", "plan")
    original = s3.get_object(Bucket=proof.artifact_bucket, Key=key)["Body"].read()
    # a pull request's job tries to replace the model prod points at: the bucket refuses it
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=proof.artifact_bucket, Key=key, Body=b"not the reviewed model")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=proof.artifact_bucket, Key=key, Body=b"not the reviewed model", IfNoneMatch="*")
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError, match=r"not authorized to perform: s3:DeleteObject"):
        s3.delete_object(Bucket=proof.artifact_bucket, Key=key)
    assert s3.get_object(Bucket=proof.artifact_bucket, Key=key)["Body"].read() == original
    # publishing the same bytes again uploads nothing and needs no delete
    assert proof.publish_as("plan", monkeypatch) == proof.artifacts


def test_the_apply_role_applies_dev(proof: Proof):
    proof.authz(enforce=True)
    proof.root = proof.env_root("apply")
    plan = envroot.plan(proof.root)
    assert plan.has_changes
    envroot.apply(proof.root, plan.path)
    report = proof.authz()
    assert not denied(report), denied(report)
    assert {"iam:CreateRole", "iam:PassRole", "sagemaker:CreateEndpoint", "kms:CreateKey"} <= set(report["checked"])
    iam = proof.client("iam")
    for role in iam.list_roles()["Roles"]:
        if role["RoleName"].startswith("hubdeploy-dev-"):
            boundary = iam.get_role(RoleName=role["RoleName"])["Role"]["PermissionsBoundary"]
            assert boundary["PermissionsBoundaryArn"].endswith(":policy/hubdeploy-stack-boundary")


def test_the_plan_role_refreshes_the_applied_stack(proof: Proof):
    proof.authz(enforce=True)
    plan = envroot.plan(proof.env_root("plan"), lock=False)  # what every plan-role job runs (speculative)
    assert not plan.has_changes
    report = proof.authz()
    assert not denied(report), denied(report)
    assert {"lambda:GetFunction", "sagemaker:DescribeEndpoint", "iam:GetRole"} <= set(report["checked"])


def test_the_plan_role_cannot_take_the_state_lock(proof: Proof):
    # a PR job can never hold (or leak) an environment's lock: its role may not write the lock file
    proof.authz(enforce=True)
    with pytest.raises(TerraformError, match="lock"):
        envroot.plan(proof.env_root("plan"), lock=True, lock_timeout="0s")
    refused = proof.authz()["denied"]
    assert any("s3:PutObject" in d and ".tflock" in d for d in refused), refused


def test_the_apply_role_applies_a_pin_change(
    proof: Proof, tiny_model_dir_v2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = install_in_hf_cache(tiny_model_dir_v2, proof.work / "hf-cache", DEFAULT_HUB_MODEL_ID)
    write_pin(proof.repo, ENV, ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    proof.authz(enforce=True)
    proof.publish_as("apply", monkeypatch)
    root = proof.env_root("apply")
    plan = envroot.plan(root)
    envroot.apply(root, plan.path)
    report = proof.authz()
    assert not denied(report), denied(report)
    assert "sagemaker:UpdateEndpoint" in report["checked"]


def test_the_apply_role_is_no_admin_in_disguise(proof: Proof):
    proof.authz(enforce=True)
    iam = proof.client("iam", "apply")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    with pytest.raises(ClientError, match=r"not authorized to perform: iam:CreateRole"):
        iam.create_role(RoleName="hubdeploy-dev-escalate", AssumeRolePolicyDocument=trust)  # no boundary
    (role,) = [r for r in proof.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("hubdeploy-dev-fn-")]
    with pytest.raises(ClientError, match=r"not authorized to perform: iam:DeleteRolePermissionsBoundary"):
        iam.delete_role_permissions_boundary(RoleName=role["RoleName"])
    with pytest.raises(ClientError, match=r"not authorized to perform: iam:CreatePolicyVersion"):
        iam.create_policy_version(
            PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/hubdeploy-stack-boundary",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
            SetAsDefault=True,
        )
    with pytest.raises(ClientError, match=r"not authorized to perform: lambda:UpdateFunctionCode"):
        proof.client("lambda", "apply").update_function_code(FunctionName="someone-elses", ZipFile=b"x")
    with pytest.raises(ClientError, match=r"not authorized to perform: kms:ScheduleKeyDeletion"):
        key = proof.client("kms").create_key()["KeyMetadata"]["KeyId"]  # an untagged key: not the stack's
        proof.client("kms", "apply").schedule_key_deletion(KeyId=key)
    assert re.search(r"iam:CreateRole", denied(proof.authz()))


def test_the_apply_role_destroys_dev(proof: Proof):
    proof.authz(enforce=True)
    root = proof.env_root("apply")
    envroot.destroy(root)
    report = proof.authz()
    assert not denied(report), denied(report)
    assert envroot.state_resources(root) == [r for r in envroot.state_resources(root) if r.startswith("data.")]
