"""API Gateway's rule in the strict emulator: no stage logging before the account's CloudWatch Logs role."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.infra.emulator.rules import apigateway

pytestmark = pytest.mark.unit

REGION = "us-east-1"
ACCESS_LOGS = [
    {
        "op": "replace",
        "path": "/accessLogSettings/destinationArn",
        "value": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/x/access",
    },
    {"op": "replace", "path": "/accessLogSettings/format", "value": '{"requestId":"$context.requestId"}'},
]
METHOD_LOGGING = [{"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}]
METRICS_ONLY = [
    {"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"},
    {"op": "replace", "path": "/*/*/logging/loglevel", "value": "OFF"},
]


def stage() -> tuple[object, str]:
    """A REST API with one deployed stage `v1` (no logging yet)."""
    client = boto3.client("apigateway", region_name=REGION)
    api_id = client.create_rest_api(name="hubdeploy-dev")["id"]
    root = next(r["id"] for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    deployment = client.create_deployment(restApiId=api_id)["id"]
    client.create_stage(restApiId=api_id, stageName="v1", deploymentId=deployment)
    return client, api_id


@pytest.mark.parametrize("operations", [ACCESS_LOGS, METHOD_LOGGING], ids=["access-logs", "method-logging-info"])
def test_logging_is_refused_until_the_account_has_a_cloudwatch_role(strictness: str, operations):
    # given a stage in an account and region without cloudwatchRoleArn (before terraform/account)
    client, api_id = stage()
    if strictness == "plain":
        client.update_stage(restApiId=api_id, stageName="v1", patchOperations=operations)
        return
    # when the stage turns logging on, then stage_logging_needs_the_account_cloudwatch_role refuses it
    with pytest.raises(ClientError) as refused:
        client.update_stage(restApiId=api_id, stageName="v1", patchOperations=operations)
    error = refused.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert error["Message"] == apigateway.NO_ROLE_MESSAGE
    assert "accessLogSettings" not in client.get_stage(restApiId=api_id, stageName="v1")


def test_metrics_without_logging_need_no_role(strictness: str):
    client, api_id = stage()
    client.update_stage(restApiId=api_id, stageName="v1", patchOperations=METRICS_ONLY)


def test_once_the_account_has_the_role_logging_is_accepted(strictness: str):
    # given the account's CloudWatch Logs role set (what terraform/account does)
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName="hubdeploy-apigw-logs-us-east-1", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    client, api_id = stage()
    client.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    # then both kinds of logging are accepted
    client.update_stage(restApiId=api_id, stageName="v1", patchOperations=ACCESS_LOGS + METHOD_LOGGING)
    settings = client.get_stage(restApiId=api_id, stageName="v1")
    assert settings["accessLogSettings"]["destinationArn"].endswith("/access")
    assert settings["methodSettings"]["*/*"]["loggingLevel"] == "INFO"


@pytest.mark.parametrize(
    ("operation", "enables"),
    [
        ({"op": "replace", "path": "/*/*/logging/loglevel", "value": "ERROR"}, True),
        ({"op": "replace", "path": "/*/*/logging/loglevel", "value": "OFF"}, False),
        ({"op": "replace", "path": "/*/*/logging/dataTrace", "value": "true"}, True),
        ({"op": "remove", "path": "/accessLogSettings"}, False),
        ({"op": "replace", "path": "/tracingEnabled", "value": "true"}, False),
    ],
)
def test_which_patch_operations_turn_logging_on(operation, enables):
    assert apigateway.enables_logging(operation) is enables
