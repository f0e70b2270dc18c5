"""The local gateway is configured from what API Gateway and Lambda describe, not from the working tree:
routes, API-key enforcement, and the function's handler/environment/code digest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest

from hubdeploy.errors import ArtifactError
from hubdeploy.local.api import LocalApi
from hubdeploy.local.discovery import discover_api, parse_invoke_url
from tests.local.helpers import REPO_ROOT


def lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted((REPO_ROOT / "lambda").glob("*.py")):
            zf.write(path, path.name)
    return buf.getvalue()


def deploy_api_key_api(code: bytes) -> tuple[str, str]:
    """A REST API shaped like the inference-api module in api_key mode; returns (invoke URL, key value)."""
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    fn = boto3.client("lambda").create_function(
        FunctionName="hubdeploy-test",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": code},
        Environment={"Variables": {"ENDPOINT_NAME": "hubdeploy-test", "MAX_TEXTS": "4"}},
        Timeout=20,
    )
    apigw = boto3.client("apigateway")
    api_id = apigw.create_rest_api(name="hubdeploy-test")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    res = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="sentiment")["id"]
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "minProperties": 1,
        "properties": {"text": {"type": "string", "minLength": 1}, "texts": {"type": "array", "minItems": 1}},
    }
    apigw.create_model(
        restApiId=api_id, name="SentimentRequest", contentType="application/json", schema=json.dumps(schema)
    )
    validator = apigw.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)
    apigw.put_method(
        restApiId=api_id,
        resourceId=res,
        httpMethod="POST",
        authorizationType="NONE",
        apiKeyRequired=True,
        requestValidatorId=validator["id"],
        requestModels={"application/json": "SentimentRequest"},
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=res,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn['FunctionArn']}/invocations",
    )
    deployment = apigw.create_deployment(restApiId=api_id, stageName="v1")
    assert deployment["id"]
    key = apigw.create_api_key(name="k", enabled=True)
    plan = apigw.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "v1"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return f"https://{api_id}.execute-api.us-east-1.amazonaws.com/v1", key["value"]


@pytest.mark.unit
def test_invoke_url_parsing() -> None:
    ref = parse_invoke_url("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/")
    assert (ref.api_id, ref.stage) == ("abc123", "v1")


@pytest.mark.emulator
def test_discovers_routes_api_keys_and_the_function(emulator, tmp_path: Path) -> None:
    code = lambda_zip()
    url, key = deploy_api_key_api(code)
    session = boto3.session.Session(region_name="us-east-1")
    config = discover_api(
        session=session, endpoint_url=emulator.endpoint_url, api_url=url, lambda_zip=code, code_root=tmp_path
    )
    assert [(r.resource, r.method, r.api_key_required) for r in config.routes] == [("/sentiment", "POST", True)]
    assert config.api_keys == frozenset({key}) and config.verifier is None
    assert config.function.function_name == "hubdeploy-test"
    assert (tmp_path / hashlib.sha256(code).hexdigest() / "handler.py").is_file()
    api = LocalApi(config)
    # API key mode: no key or a wrong key is API Gateway's 403 Forbidden, before the function runs
    assert api.handle("POST", "/v1/sentiment", [], b'{"text": "x"}').status == 403
    assert api.handle("POST", "/v1/sentiment", [("x-api-key", "nope")], b'{"text": "x"}').status == 403
    # the method's request validator answers a body that fails the model, without running the function
    empty = api.handle("POST", "/v1/sentiment", [("x-api-key", key)], b'{"text": ""}')
    assert (empty.status, json.loads(empty.body)) == (400, {"message": "Invalid request body"})
    # with the key the deployed function runs, with its deployed environment (MAX_TEXTS=4)
    headers = [("x-api-key", key), ("Content-Type", "application/json")]
    too_many = api.handle("POST", "/v1/sentiment", headers, json.dumps({"texts": ["a"] * 5}).encode())
    assert too_many.status == 400 and "4" in json.loads(too_many.body)["message"]


@pytest.mark.emulator
def test_a_zip_that_is_not_the_deployed_code_is_refused(emulator, tmp_path: Path) -> None:
    url, _ = deploy_api_key_api(lambda_zip())
    other = lambda_zip() + b"\0"
    with pytest.raises(ArtifactError, match="artifact corrupt"):
        discover_api(
            session=boto3.session.Session(region_name="us-east-1"),
            endpoint_url=emulator.endpoint_url,
            api_url=url,
            lambda_zip=other,
            code_root=tmp_path,
        )
