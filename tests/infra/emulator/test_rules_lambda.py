"""Lambda's rules in the strict emulator: reservations keep 100 executions unreserved (a new account, limit
10, refuses any), and a CMK-encrypted environment is shown only to callers who may decrypt it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.config import default_user_config

from hubdeploy.infra.emulator.rules import lambda_

pytestmark = pytest.mark.unit

REGION = "us-east-1"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def role(name: str, statements: list[dict[str, Any]] | None = None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="inline",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return arn


def function(name: str, *, kms_key_arn: str | None = None) -> None:
    extra = {"KMSKeyArn": kms_key_arn} if kms_key_arn else {}
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role(f"{name}-fn"),
        Handler="handler.handler",
        Code={"ZipFile": zipped()},
        Environment={"Variables": {"ENDPOINT_NAME": "hubdeploy-dev", "MAX_TEXTS": "32"}},
        **extra,
    )


@pytest.fixture
def account_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the emulated account's concurrency limit (moto's Lambda config), restored afterwards."""

    def set_limit(limit: int) -> None:
        monkeypatch.setitem(
            default_user_config, "lambda", {**default_user_config["lambda"], "concurrent_executions": limit}
        )

    yield set_limit


def test_a_new_account_with_limit_10_refuses_a_reservation_of_5(strictness: str, account_limit):
    # given a new account (limit 10) and a function
    account_limit(10)
    function("hubdeploy-dev")
    client = boto3.client("lambda", region_name=REGION)
    # when the function reserves 5, as dev's tfvars used to
    if strictness == "plain":
        client.put_function_concurrency(FunctionName="hubdeploy-dev", ReservedConcurrentExecutions=5)
        assert client.get_function_concurrency(FunctionName="hubdeploy-dev")["ReservedConcurrentExecutions"] == 5
        return
    # then AWS's rule (reserved_concurrency_leaves_100_unreserved) refuses it with AWS's error
    with pytest.raises(ClientError) as refused:
        client.put_function_concurrency(FunctionName="hubdeploy-dev", ReservedConcurrentExecutions=5)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == lambda_.UNRESERVED_MESSAGE
    assert "below its minimum value of [100]" in error["Message"]
    assert "Concurrency" not in client.get_function(FunctionName="hubdeploy-dev")


def test_the_default_limit_is_awss_1000_and_counts_every_reservation(strictness: str):
    function("a")
    function("b")
    client = boto3.client("lambda", region_name=REGION)
    client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=850)
    client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=50)  # 100 left: fits
    client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=850)  # a's own is not counted twice
    if strictness == "plain":
        client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=51)
        return
    with pytest.raises(ClientError, match="below its minimum value of"):
        client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=51)


def test_get_account_settings_reports_the_limit_and_the_unreserved_rest(strictness: str, account_limit):
    account_limit(200)
    function("a")
    client = boto3.client("lambda", region_name=REGION)
    if strictness == "plain":
        with pytest.raises(ClientError):  # not implemented by moto
            client.get_account_settings()
        return
    client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=60)
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 200
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 140
    assert settings["AccountUsage"]["FunctionCount"] == 1


def views(function_name: str, key_arn: str) -> dict[str, dict[str, Any]]:
    """GetFunction's Environment as the plan role (no kms:Decrypt) and the apply role (kms:Decrypt on the key)
    see it, each with credentials from sts:AssumeRole."""
    read = {"Effect": "Allow", "Action": ["lambda:GetFunction*"], "Resource": "*"}
    decrypt = {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn}
    seen = {}
    for name, statements in (("plan", [read]), ("apply", [read, decrypt])):
        arn = role(f"hubdeploy-github-{name}", statements)
        creds = boto3.client("sts", region_name=REGION).assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
        client = boto3.client(
            "lambda",
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        environment = client.get_function(FunctionName=function_name)["Configuration"]["Environment"]
        assert client.get_function_configuration(FunctionName=function_name)["Environment"] == environment
        seen[name] = environment
    return seen


def test_a_cmk_encrypted_environment_is_shown_only_to_callers_who_may_decrypt_it(strictness: str):
    # given the function as the module used to create it: environment encrypted with its own key
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    function("hubdeploy-dev", kms_key_arn=key_arn)
    # when the plan role and the apply role refresh it
    seen = views("hubdeploy-dev", key_arn)
    assert seen["apply"] == {"Variables": {"ENDPOINT_NAME": "hubdeploy-dev", "MAX_TEXTS": "32"}}
    if strictness == "plain":
        assert seen["plan"] == seen["apply"], "plain moto shows everyone the variables"
        return
    # then (function_environment_needs_the_callers_kms_decrypt) the plan role sees AWS's EnvironmentError and
    # no variables: its plan would differ from the apply role's, and the plan hashes could never match
    assert "Variables" not in seen["plan"]
    assert seen["plan"]["Error"]["ErrorCode"] == "AccessDeniedException"
    assert "KMS access was denied" in seen["plan"]["Error"]["Message"]
    assert key_arn in seen["plan"]["Error"]["Message"]


def test_without_a_cmk_both_roles_see_the_same_environment(strictness: str):
    # given the function as the module creates it now: no kms_key_arn (Lambda's AWS managed key)
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    function("hubdeploy-dev")
    # then plan and apply roles refresh the same state, strict or not
    seen = views("hubdeploy-dev", key_arn)
    assert seen["plan"] == seen["apply"] == {"Variables": {"ENDPOINT_NAME": "hubdeploy-dev", "MAX_TEXTS": "32"}}


def test_the_emulators_static_keys_are_the_account_root_and_see_everything(strictness: str):
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    function("hubdeploy-dev", kms_key_arn=key_arn)
    environment = boto3.client("lambda", region_name=REGION).get_function(FunctionName="hubdeploy-dev")
    assert environment["Configuration"]["Environment"]["Variables"]["ENDPOINT_NAME"] == "hubdeploy-dev"
