"""`hubdeploy bootstrap`: hardened, tagged buckets; idempotent; refuses buckets it does not own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from hubdeploy.cli import main
from hubdeploy.infra.bootstrap import tls_only_policy
from hubdeploy.infra.naming import OWNER_TAG

ACCOUNT = "123456789012"  # moto's
STATE = f"hubdeploy-tfstate-{ACCOUNT}-us-east-1"
ARTIFACTS = f"hubdeploy-artifacts-{ACCOUNT}-us-east-1"


@pytest.fixture
def aws(aws_credentials: None, repo: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    for var in ("AWS_ENDPOINT_URL", "HUBDEPLOY_STATE_BUCKET", "HUBDEPLOY_ARTIFACT_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def assert_hardened(s3: Any, bucket: str) -> None:
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags[OWNER_TAG[0]] == OWNER_TAG[1]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    statement = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.unit
def test_bootstrap_creates_both_buckets_hardened(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--env", "dev"]) == 0
    for bucket in (STATE, ARTIFACTS):
        assert_hardened(aws, bucket)
    out = capsys.readouterr().out
    assert f"state bucket: {STATE} (created)" in out and f"artifacts bucket: {ARTIFACTS} (created)" in out
    assert f"init -backend-config=bucket={STATE} -backend-config=region=us-east-1" in out
    assert "envs/dev/terraform.tfstate" in out
    assert (
        "terraform -chdir=terraform/root init "
        f"-backend-config=bucket={STATE} -backend-config=region=us-east-1 "
        "-backend-config=key=envs/dev/terraform.tfstate -reconfigure\n"
    ) in out, "the one root, initialised for this env's state key"


@pytest.mark.unit
def test_bootstrap_is_idempotent(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--env", "dev"]) == 0
    capsys.readouterr()
    assert main(["bootstrap", "--env", "staging"]) == 0
    assert "already set up" in capsys.readouterr().out
    assert_hardened(aws, STATE)
    assert {b["Name"] for b in aws.list_buckets()["Buckets"]} == {STATE, ARTIFACTS}


@pytest.mark.unit
def test_bootstrap_refuses_a_bucket_it_does_not_own(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    aws.create_bucket(Bucket=STATE)
    assert main(["bootstrap", "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert f"bucket {STATE} exists but was not created by hubdeploy" in err and "Traceback" not in err
    with pytest.raises(aws.exceptions.ClientError):
        aws.get_bucket_tagging(Bucket=STATE)  # untouched: still no tags
    with pytest.raises(aws.exceptions.ClientError):
        aws.get_bucket_policy(Bucket=STATE)
    assert {b["Name"] for b in aws.list_buckets()["Buckets"]} == {STATE}


@pytest.mark.unit
def test_bootstrap_names_from_flags_and_environment(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUBDEPLOY_ARTIFACT_BUCKET", "acme-artifacts")
    assert main(["bootstrap", "--env", "prod", "--state-bucket", "acme-state"]) == 0
    assert {b["Name"] for b in aws.list_buckets()["Buckets"]} == {"acme-state", "acme-artifacts"}
    assert "-backend-config=bucket=acme-state" in capsys.readouterr().out


@pytest.mark.unit
def test_bootstrap_outside_us_east_1(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert main(["bootstrap", "--env", "dev"]) == 0
    eu = boto3.client("s3", region_name="eu-west-1")
    bucket = f"hubdeploy-tfstate-{ACCOUNT}-eu-west-1"
    assert eu.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"


@pytest.mark.unit
def test_bootstrap_unknown_env(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--env", "qa"]) == 1
    assert "unknown environment 'qa'" in capsys.readouterr().err
    assert aws.list_buckets()["Buckets"] == []


@pytest.mark.unit
def test_bootstrap_without_credentials(
    repo: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["bootstrap", "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert "no AWS credentials found to find your AWS account" in err and len(err.strip().splitlines()) == 1


@pytest.mark.emulator
def test_bootstrap_through_the_emulator_keeps_state_on_rerun(repo: Any, emulator: Any) -> None:
    """AWS_ENDPOINT_URL sends every client to the emulator (moto_server, plain HTTP on 127.0.0.1)."""
    assert main(["bootstrap", "--env", "dev"]) == 0
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    s3.put_object(Bucket=STATE, Key="envs/dev/terraform.tfstate", Body=b"{}")
    assert main(["bootstrap", "--env", "dev"]) == 0
    for bucket in (STATE, ARTIFACTS):
        assert_hardened(s3, bucket)  # the TLS-only policy too: the emulator's shim treats it as AWS's HTTPS does
    assert s3.get_object(Bucket=STATE, Key="envs/dev/terraform.tfstate")["Body"].read() == b"{}"


@pytest.mark.unit
def test_the_artifact_bucket_refuses_writes_without_if_none_match(aws: Any) -> None:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
    assert main(["bootstrap", "--env", "dev"]) == 0
    statements = json.loads(aws.get_bucket_policy(Bucket=ARTIFACTS)["Policy"])["Statement"]
    (no_overwrites,) = [s for s in statements if s["Sid"] == "DenyWritesWithoutIfNoneMatch"]
    assert no_overwrites["Effect"] == "Deny" and no_overwrites["Action"] == "s3:PutObject"
    assert no_overwrites["Resource"] == f"arn:aws:s3:::{ARTIFACTS}/*"
    assert no_overwrites["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }
    # the state bucket takes Terraform's state overwrites: TLS only
    state = json.loads(aws.get_bucket_policy(Bucket=STATE)["Policy"])["Statement"]
    assert [s["Sid"] for s in state] == ["DenyInsecureTransport"]


@pytest.mark.unit
def test_a_bucket_bootstrapped_before_the_rule_gets_it_on_the_next_run(aws: Any) -> None:
    assert main(["bootstrap", "--env", "dev"]) == 0
    aws.put_bucket_policy(Bucket=ARTIFACTS, Policy=tls_only_policy(ARTIFACTS))  # an older bootstrap's policy
    assert main(["bootstrap", "--env", "dev"]) == 0
    sids = [s["Sid"] for s in json.loads(aws.get_bucket_policy(Bucket=ARTIFACTS)["Policy"])["Statement"]]
    assert sids == ["DenyInsecureTransport", "DenyWritesWithoutIfNoneMatch"]
