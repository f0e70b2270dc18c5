"""The dev environment's whole life against the emulator, through the real pipeline and root code:
bootstrap -> pin -> build -> publish -> apply -> (wiring checks) -> no-op re-plan -> pin change ->
plan = new model + new config + endpoint updated in place -> apply -> destroy leaves nothing.

The tests run in order and share one deployment (one apply per module keeps the suite fast).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.infra import envroot
from hubdeploy.infra.naming import state_key

pytestmark = pytest.mark.terraform

ENV = "dev"
MODEL = "module.endpoint.aws_sagemaker_model.this"
CONFIG = "module.endpoint.aws_sagemaker_endpoint_configuration.this"
ENDPOINT = "module.endpoint.aws_sagemaker_endpoint.this"


class Deployment:
    """What the tests learn along the way (module-scoped)."""

    root: envroot.EnvRoot
    revision: str
    artifacts: dict[str, str]
    outputs: dict[str, Any]
    new_revision: str
    new_artifacts: dict[str, str]
    update_plan: envroot.Plan


@pytest.fixture(scope="module")
def deployment(stack, tiny_model_dir: Path) -> Deployment:
    """dev pinned to the tiny model, artifacts published, root applied."""
    d = Deployment()
    d.revision = stack.cache_model(tiny_model_dir)
    stack.pin(ENV, d.revision)
    d.artifacts = stack.publish(ENV)
    d.root = stack.root(ENV)
    envroot.init(d.root, state_bucket=stack.state_bucket, region="us-east-1")
    plan = envroot.plan(d.root)
    assert plan.has_changes
    envroot.apply(d.root, plan.path)
    d.outputs = envroot.output_json(d.root)
    return d


def tags_of(client: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}


def role_policy(iam: Any, role_arn: str) -> dict[str, Any]:
    """The single inline policy document of a role."""
    role = role_arn.rsplit("/", 1)[1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]


def statements(document: dict[str, Any] | str) -> dict[str, dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    return {s["Sid"]: s for s in doc["Statement"]}


def test_state_lives_under_the_env_key_given_by_the_runner(deployment: Deployment, stack):
    # the GitHub OIDC roles may touch exactly envs/* (terraform/github-oidc/iam.tf)
    listed = stack.client("s3").list_objects_v2(Bucket=stack.state_bucket).get("Contents", [])
    # (account/terraform.tfstate is terraform/account's, applied once before any env: the stack fixture)
    keys = [o["Key"] for o in listed if o["Key"] != "account/terraform.tfstate"]
    assert keys == [state_key(ENV)] == ["envs/dev/terraform.tfstate"]
    data_dir = deployment.root.path / ".terraform" / "envs" / ENV
    assert deployment.root.tf_env["TF_DATA_DIR"] == str(data_dir)
    backend = json.loads((data_dir / "terraform.tfstate").read_text())["backend"]["config"]
    assert (backend["bucket"], backend["key"]) == (stack.state_bucket, "envs/dev/terraform.tfstate")
    # what `initialised` reads to spare an outputs-only command a second init (tests/infra/test_init_reuse.py)
    root = deployment.root
    assert envroot.initialised(root, state_bucket=stack.state_bucket, region="us-east-1")
    assert not envroot.initialised(root, state_bucket=stack.state_bucket, region="eu-west-1")
    assert not envroot.initialised(root, state_bucket="hubdeploy-tfstate-other", region="us-east-1")
    restarted = replace(root, endpoint_url="http://127.0.0.1:1")  # an emulator restarted on another port
    assert not envroot.initialised(restarted, state_bucket=stack.state_bucket, region="us-east-1")


def test_outputs_follow_the_contract(deployment: Deployment):
    out = deployment.outputs
    assert re.fullmatch(r"https://[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com/v1", out["api_url"])
    assert out["endpoint_name"] == "hubdeploy-dev"
    assert out["endpoint_config_name"].startswith("hubdeploy-dev-")
    assert out["model_name"].startswith("hubdeploy-dev-")
    auth = out["auth"]
    assert auth["mode"] == "cognito"
    assert auth["issuer"] == f"https://cognito-idp.us-east-1.amazonaws.com/{auth['user_pool_id']}"
    assert auth["client_id"] and auth["scope"] == "hubdeploy-dev/invoke"
    assert auth["token_url"].endswith(".auth.us-east-1.amazoncognito.com/oauth2/token")
    assert out["auth_client_secret"], "the machine client has a secret for the client-credentials grant"


def test_model_serves_the_published_artifact_with_the_hf_image(deployment: Deployment, stack):
    sm = stack.client("sagemaker")
    model = sm.describe_model(ModelName=deployment.outputs["model_name"])
    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"] == deployment.artifacts["model_data_url"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert re.fullmatch(
        # the versioned tag (-vX.Y) names one build: the floating tag would change the container on scale-out
        r"763104351884\.dkr\.ecr\.us-east-1\.amazonaws\.com/huggingface-pytorch-inference:"
        r"[0-9.]+-transformers[0-9.]+-cpu-py3\d+-ubuntu[0-9.]+-v\d+\.\d+",
        container["Image"],
    )
    expected_tags = {
        "hubdeploy:hub-model-id": "yiyanghkust/finbert-tone",
        "hubdeploy:hub-revision": deployment.revision,
        "hubdeploy:artifact-sha256": deployment.artifacts["model_artifact_sha256"],
    }
    config = sm.describe_endpoint_config(EndpointConfigName=deployment.outputs["endpoint_config_name"])
    for arn in (model["ModelArn"], config["EndpointConfigArn"]):
        assert expected_tags.items() <= tags_of(sm, arn).items()
        # which commit deployed it lives in the artifact's S3 tags and the deploy record, not here (no churn)
        assert "hubdeploy:git-commit" not in tags_of(sm, arn)
    assert tags_of(sm, model["ModelArn"])["hubdeploy:environment"] == "dev", "provider default tags apply"
    # dev is one ml.t2.medium (serverless would need a slim image of its own): EBS volume under the KMS key,
    # the container without network
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.t2.medium", 1)
    assert "ServerlessConfig" not in variant
    assert config["KmsKeyId"].startswith("arn:aws:kms:")
    assert model["EnableNetworkIsolation"] is True
    endpoint = sm.describe_endpoint(EndpointName="hubdeploy-dev")
    assert endpoint["EndpointConfigName"] == deployment.outputs["endpoint_config_name"]


def test_execution_role_reads_only_its_artifact(deployment: Deployment, stack):
    model = stack.client("sagemaker").describe_model(ModelName=deployment.outputs["model_name"])
    policy = statements(role_policy(stack.client("iam"), model["ExecutionRoleArn"]))
    bucket_key = deployment.artifacts["model_data_url"].removeprefix("s3://")
    assert policy["ReadModelArtifact"]["Action"] == "s3:GetObject"
    assert policy["ReadModelArtifact"]["Resource"] == f"arn:aws:s3:::{bucket_key}"
    assert policy["PullServingImage"]["Resource"] == (
        "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-inference"
    )
    assert policy["WriteOwnLogs"]["Resource"].startswith(
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/hubdeploy-dev:"
    )
    wildcard = {sid for sid, s in policy.items() if s["Resource"] == "*"}
    assert wildcard == {"EcrLogin", "PublishEndpointMetrics"}, "only actions without resource-level permissions"


def test_lambda_is_wired_to_the_endpoint_only(deployment: Deployment, stack):
    fn = stack.client("lambda").get_function(FunctionName="hubdeploy-dev")
    config = fn["Configuration"]
    assert config["Handler"] == "handler.handler"
    assert config["Runtime"] in {"python3.12", "python3.13"}
    assert config["TracingConfig"]["Mode"] == "Active"
    assert config["CodeSha256"] == deployment.artifacts["lambda_source_code_hash"]
    env = config["Environment"]["Variables"]
    assert env["ENDPOINT_NAME"] == "hubdeploy-dev"
    assert {"MAX_TEXTS", "MAX_TEXT_CHARS", "MAX_BODY_BYTES", "LOG_LEVEL"} <= env.keys()
    # unreserved (new accounts cannot reserve any: terraform/envs/dev/terraform.tfvars)
    assert fn.get("Concurrency", {}).get("ReservedConcurrentExecutions") is None
    # Lambda's AWS managed key: a customer managed key would hide the variables from the plan role's GetFunction
    assert not config.get("KMSKeyArn")
    policy = statements(role_policy(stack.client("iam"), config["Role"]))
    endpoint_arn = stack.client("sagemaker").describe_endpoint(EndpointName="hubdeploy-dev")["EndpointArn"]
    assert policy["InvokeThisEndpointOnly"]["Action"] == "sagemaker:InvokeEndpoint"
    assert policy["InvokeThisEndpointOnly"]["Resource"] == endpoint_arn


def test_api_route_requires_a_cognito_token_with_the_invoke_scope(deployment: Deployment, stack):
    apigw = stack.client("apigateway")
    api_id = deployment.outputs["api_url"].split("//")[1].split(".")[0]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    sentiment = resources["/sentiment"]
    assert set(sentiment["resourceMethods"]) == {"POST"}
    method = apigw.get_method(restApiId=api_id, resourceId=sentiment["id"], httpMethod="POST")
    assert method["authorizationType"] == "COGNITO_USER_POOLS"
    assert method["authorizationScopes"] == ["hubdeploy-dev/invoke"]
    assert method["requestValidatorId"] and method["requestModels"] == {"application/json": "SentimentRequest"}
    authorizer = apigw.get_authorizer(restApiId=api_id, authorizerId=method["authorizerId"])
    pool_id = deployment.outputs["auth"]["user_pool_id"]
    assert authorizer["type"] == "COGNITO_USER_POOLS"
    assert authorizer["providerARNs"] == [f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool_id}"]
    integration = method["methodIntegration"]
    assert integration["type"] == "AWS_PROXY"
    assert "function:hubdeploy-dev/invocations" in integration["uri"]
    stage = apigw.get_stage(restApiId=api_id, stageName="v1")
    assert stage["tracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:/aws/apigateway/hubdeploy-dev/access")
    client = stack.client("cognito-idp").describe_user_pool_client(
        UserPoolId=pool_id, ClientId=deployment.outputs["auth"]["client_id"]
    )["UserPoolClient"]
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    assert client["AllowedOAuthScopes"] == ["hubdeploy-dev/invoke"]


def test_log_groups_have_retention(deployment: Deployment, stack):
    groups = {g["logGroupName"]: g for g in stack.client("logs").describe_log_groups()["logGroups"]}
    for name in ("/aws/sagemaker/Endpoints/hubdeploy-dev", "/aws/lambda/hubdeploy-dev"):
        assert groups[name]["retentionInDays"] == 30
        assert groups[name]["kmsKeyId"].startswith("arn:aws:kms:")


def test_replan_right_after_apply_is_a_no_op(deployment: Deployment):
    plan = envroot.plan(deployment.root)
    changes = envroot.resource_changes(envroot.show_json(deployment.root, plan.path))
    assert not plan.has_changes, f"the emulated stack does not converge: {changes}"


def test_a_docs_only_commit_plans_no_changes(deployment: Deployment, stack):
    # given the applied dev, when a commit that touches only docs is built and published again (CI does this
    # on every PR and merge), from another commit
    (stack.repo / "terraform" / "README.md").write_text(
        (stack.repo / "terraform" / "README.md").read_text() + "\nA note.\n"
    )
    again = stack.publish(ENV, commit="d0c5" * 10)
    assert again == deployment.artifacts, "the same bytes, the same artifacts tfvars"
    root = stack.root(ENV)
    plan = envroot.plan(root, out=root.path / "docs-only.tfplan")
    # then it plans "No changes": no tag, variable or key carries the commit
    changes = envroot.resource_changes(envroot.show_json(root, plan.path))
    assert not plan.has_changes, f"a docs-only commit plans changes: {changes}"


def test_pin_change_plans_new_model_and_config_and_updates_the_endpoint_in_place(
    deployment: Deployment, stack, tiny_model_dir_v2: Path
):
    deployment.new_revision = stack.cache_model(tiny_model_dir_v2)
    assert deployment.new_revision != deployment.revision
    stack.pin(ENV, deployment.new_revision)
    deployment.new_artifacts = stack.publish(ENV)
    assert deployment.new_artifacts["model_data_url"] != deployment.artifacts["model_data_url"]
    root = stack.root(ENV)  # re-sync the work copy: new pin + artifacts files
    plan = envroot.plan(root)
    doc = envroot.show_json(root, plan.path)
    deployment.update_plan = plan
    changes = envroot.resource_changes(doc)
    assert changes[MODEL] == ("create", "delete"), "new model first, old one deleted after"
    assert changes[CONFIG] == ("create", "delete"), "new configuration first, old one deleted after"
    assert changes[ENDPOINT] == ("update",), "the endpoint is updated in place, never replaced"
    deleted = {address for address, actions in changes.items() if "delete" in actions}
    assert deleted == {MODEL, CONFIG}, f"nothing but the old model and configuration is deleted: {changes}"
    endpoint = next(c for c in doc["resource_changes"] if c["address"] == ENDPOINT)["change"]
    assert endpoint["before"]["endpoint_config_name"] == deployment.outputs["endpoint_config_name"]
    assert endpoint["after_unknown"].get("endpoint_config_name") is True


def test_apply_points_the_endpoint_at_the_new_config_and_deletes_the_old(deployment: Deployment, stack):
    root = stack.root(ENV)
    envroot.apply(root, deployment.update_plan.path)  # exactly the plan the previous test reviewed
    outputs = envroot.output_json(root)
    sm = stack.client("sagemaker")
    new_config = outputs["endpoint_config_name"]
    assert new_config != deployment.outputs["endpoint_config_name"]
    # provider issue #40048: the endpoint must really serve the new configuration
    assert sm.describe_endpoint(EndpointName="hubdeploy-dev")["EndpointConfigName"] == new_config
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [new_config]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [outputs["model_name"]]
    model = sm.describe_model(ModelName=outputs["model_name"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == deployment.new_artifacts["model_data_url"]
    assert tags_of(sm, model["ModelArn"])["hubdeploy:hub-revision"] == deployment.new_revision


def test_resizing_plans_a_new_config_and_an_in_place_update_keeping_the_model(deployment: Deployment, stack):
    root = stack.root(ENV)
    plan = envroot.plan(root, out=root.path / "resize.tfplan", variables={"instance_count": 2})
    doc = envroot.show_json(root, plan.path)
    changes = envroot.resource_changes(doc)
    assert changes == {CONFIG: ("create", "delete"), ENDPOINT: ("update",)}, changes
    config = next(c for c in doc["resource_changes"] if c["address"] == CONFIG)["change"]
    (variant,) = config["after"]["production_variants"]
    assert (variant["instance_type"], variant["initial_instance_count"]) == ("ml.t2.medium", 2)
    assert config["after"]["kms_key_arn"].startswith("arn:aws:kms:"), "instances get the KMS volume key"


def test_destroy_leaves_nothing_behind(deployment: Deployment, stack):
    root = stack.root(ENV)
    envroot.destroy(root)
    assert envroot.state_resources(root) == []
    sm = stack.client("sagemaker")
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    assert stack.client("lambda").list_functions()["Functions"] == []
    assert stack.client("apigateway").get_rest_apis()["items"] == []
    assert stack.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []
    roles = [r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("hubdeploy-dev")]
    groups = [g["logGroupName"] for g in stack.client("logs").describe_log_groups()["logGroups"]]
    assert not [g for g in groups if "hubdeploy-dev" in g]
    kms = stack.client("kms")
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert states <= {"PendingDeletion"}
