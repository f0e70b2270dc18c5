"""prod's plan (instances, KMS volume key, autoscaling, canary blue/green with rollback alarms) read
from `terraform show -json`, and bad input failing at plan with a message naming the variable (or, for
a wrong environment identity or a missing publish, the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubdeploy.envs import ARTIFACTS_FILE
from hubdeploy.errors import TerraformError, UsageError
from hubdeploy.infra import envroot

pytestmark = pytest.mark.terraform

ENV = "prod"


@pytest.fixture(scope="module")
def prod(stack, tiny_model_dir: Path) -> envroot.EnvRoot:
    """prod pinned to a commit SHA with published artifacts, initialised against the emulator."""
    stack.pin(ENV, stack.cache_model(tiny_model_dir))
    stack.publish(ENV)
    root = stack.root(ENV)
    envroot.init(root, state_bucket=stack.state_bucket, region="us-east-1")
    return root


@pytest.fixture(scope="module")
def planned(prod: envroot.EnvRoot) -> dict[str, Any]:
    """`terraform show -json` of prod's first plan: {address: after-values}."""
    plan = envroot.plan(prod)
    doc = envroot.show_json(prod, plan.path)
    changes = envroot.resource_changes(doc)
    assert set(changes.values()) == {("create",)}, "a first plan only creates"
    assert doc["variables"]["environment"]["value"] == "prod", "the runner names the env after its folder"
    return {c["address"]: c["change"] for c in doc["resource_changes"]}


def after(planned: dict[str, Any], address: str) -> dict[str, Any]:
    return planned[address]["after"]


def test_prod_runs_two_instances_with_an_encrypted_volume(planned: dict[str, Any]):
    config = planned["module.endpoint.aws_sagemaker_endpoint_configuration.this"]
    (variant,) = config["after"]["production_variants"]
    assert variant["instance_type"] == "ml.m5.xlarge"
    assert variant["initial_instance_count"] == 2
    assert variant["serverless_config"] == []
    assert config["after_unknown"]["kms_key_arn"] is True, "the module's KMS key encrypts the volumes"
    model = after(planned, "module.endpoint.aws_sagemaker_model.this")
    assert model["enable_network_isolation"] is True


def test_prod_autoscales_on_invocations_per_instance(planned: dict[str, Any]):
    target = after(planned, "module.endpoint.aws_appautoscaling_target.this[0]")
    assert (target["min_capacity"], target["max_capacity"]) == (2, 6)
    assert target["resource_id"] == "endpoint/hubdeploy-prod/variant/primary"
    assert target["scalable_dimension"] == "sagemaker:variant:DesiredInstanceCount"
    policy = after(planned, "module.endpoint.aws_appautoscaling_policy.this[0]")
    (tracking,) = policy["target_tracking_scaling_policy_configuration"]
    assert tracking["target_value"] == 300
    assert tracking["predefined_metric_specification"][0]["predefined_metric_type"] == (
        "SageMakerVariantInvocationsPerInstance"
    )


def test_prod_updates_blue_green_with_alarm_rollback(planned: dict[str, Any]):
    endpoint = after(planned, "module.endpoint.aws_sagemaker_endpoint.this")
    (deployment,) = endpoint["deployment_config"]
    (policy,) = deployment["blue_green_update_policy"]
    (routing,) = policy["traffic_routing_configuration"]
    assert routing["type"] == "CANARY"
    assert routing["canary_size"] == [{"type": "CAPACITY_PERCENT", "value": 10}]
    assert routing["wait_interval_in_seconds"] == 600
    alarms = {a["alarm_name"] for a in deployment["auto_rollback_configuration"][0]["alarms"]}
    assert alarms == {"hubdeploy-prod-invocation-5xx", "hubdeploy-prod-invocation-4xx", "hubdeploy-prod-model-latency"}
    metrics = {
        after(planned, f'module.endpoint.aws_cloudwatch_metric_alarm.rollback["{name}"]')["metric_name"]
        for name in ("invocation-5xx", "invocation-4xx", "model-latency")
    }
    assert metrics == {"Invocation5XXErrors", "Invocation4XXErrors", "ModelLatency"}


def test_prod_stays_destroyable_in_one_run(planned: dict[str, Any]):
    # User-pool deletion protection would make the guarded destroy workflow fail half way.
    assert after(planned, "module.api.aws_cognito_user_pool.this[0]")["deletion_protection"] == "INACTIVE"
    # unreserved (-1 is the provider's "no reservation"): a new account refuses any reservation
    assert after(planned, "module.api.aws_lambda_function.this")["reserved_concurrent_executions"] == -1


# Bad values grouped so that one failing plan checks several (Terraform reports every failed variable
# validation at once); preconditions and the provider's account check need plans of their own. Test
# variables are passed last, so they win over prod's files and over the runner's -var environment=prod.
BAD_INPUT = {
    "values": {
        "instance_type": "m5.large",
        "model_data_url": "https://bucket/model.tar.gz",
        "hub_model_id": "",
        "environment": "qa",
        "serverless": {"memory_size_in_mb": 2048, "max_concurrency": 2},
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hubdeploy-slim:1.0",
    },
    # the revision's rules read var.environment: they are checked only when the environment is valid
    "moving-ref": {"hub_revision": "main"},
    "unpinned": {"hub_revision": None},
    "wrong-account": {"aws_account_id": "111111111111"},
    # serverless with the stock DLC (a rule that reads an invalid variable is skipped, so apart from "values")
    "serverless-stock-image": {"serverless": {"memory_size_in_mb": 2048, "max_concurrency": 2}, "autoscaling": None},
}


@pytest.fixture(scope="module")
def bad_plan_errors(prod: envroot.EnvRoot) -> dict[str, str]:
    """The one-line TerraformError message of a plan with each group of bad values."""
    errors = {}
    for group, variables in BAD_INPUT.items():
        with pytest.raises(TerraformError) as failure:
            envroot.plan(prod, out=prod.path / "bad.tfplan", variables=variables)
        assert not (prod.path / "bad.tfplan").exists(), "a failed plan leaves no plan file behind"
        errors[group] = str(failure.value)
    return errors


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ("values", "instance_type must be a SageMaker instance type"),
        ("values", "model_data_url must look like s3://<bucket>/<key>.tar.gz"),
        ("values", "hub_model_id must be a non-empty Hub repository id"),
        ("values", "environment must be dev, staging or prod"),
        ("moving-ref", "hub_revision must be a 40-hex commit SHA outside dev"),
        ("values", "autoscaling applies to provisioned endpoints only"),
        ("values", "blue_green deployments need a provisioned endpoint"),
        ("serverless-stock-image", "serverless needs image_uri set to a slim serving image of your own"),
        ("unpinned", "hub_revision is not pinned yet"),
        ("unpinned", "null in terraform/envs/<env>/model.auto.tfvars.json"),
        ("wrong-account", "not allowed"),
    ],
)
def test_bad_input_fails_at_plan_with_a_message_naming_it(bad_plan_errors: dict[str, str], group: str, message: str):
    error = bad_plan_errors[group]
    assert message in error
    assert "\n" not in error, "one line"


def test_a_wrong_environment_identity_is_refused_at_plan_naming_the_file(stack, prod: envroot.EnvRoot):
    # given prod's terraform.tfvars claiming to be dev (in the scratch checkout the work copy comes from)
    values = stack.repo / "terraform" / "envs" / ENV / "terraform.tfvars"
    committed = values.read_text()
    values.write_text(committed + 'environment = "dev"\n')
    try:
        root = stack.root(ENV)
        # when it is planned, then hubdeploy refuses before Terraform runs, in one line saying what to do
        with pytest.raises(UsageError) as refused:
            envroot.plan(root, out=root.path / "bad.tfplan")
    finally:
        values.write_text(committed)
        stack.root(ENV)
    assert not (prod.path / "bad.tfplan").exists()
    line = refused.value.one_line()
    assert "terraform/envs/prod/terraform.tfvars sets environment" in line
    assert "remove the environment line from terraform/envs/prod/terraform.tfvars" in line
    assert "\n" not in line


def test_a_missing_publish_fails_at_plan_naming_the_variable_and_the_command(stack, prod: envroot.EnvRoot):
    # given prod without its artifacts file (as before `hubdeploy publish`)
    artifacts = stack.repo / "terraform" / "envs" / ENV / ARTIFACTS_FILE
    saved = artifacts.read_text()
    artifacts.unlink()
    try:
        root = stack.root(ENV)  # the work copy must not keep a stale artifacts file
        assert not (root.env_dir / ARTIFACTS_FILE).exists()
        with pytest.raises(TerraformError) as failure:
            envroot.plan(root, out=root.path / "bad.tfplan")
    finally:
        artifacts.write_text(saved)
        stack.root(ENV)
    line = failure.value.one_line()
    assert "No value for required variable" in line and "artifact_bucket" in line
    assert "run `hubdeploy publish --env prod` first" in line
    assert "\n" not in line


def created(prod: envroot.EnvRoot, variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{address: after-values} of a first plan with `variables`."""
    plan = envroot.plan(prod, out=prod.path / "variant.tfplan", variables=variables)
    doc = envroot.show_json(prod, plan.path)
    return {c["address"]: c["change"]["after"] for c in doc["resource_changes"]}


def test_api_key_mode_requires_a_key_and_a_usage_plan_instead_of_cognito(prod: envroot.EnvRoot):
    resources = created(prod, {"auth_mode": "api_key"})
    method = resources["module.api.aws_api_gateway_method.post"]
    assert method["authorization"] == "NONE" and method["api_key_required"] is True
    usage = resources["module.api.aws_api_gateway_usage_plan.this[0]"]
    assert usage["throttle_settings"] == [{"burst_limit": 100, "rate_limit": 50}]
    assert usage["quota_settings"][0]["period"] == "DAY"
    assert "module.api.aws_api_gateway_usage_plan_key.this[0]" in resources
    assert not [a for a in resources if "cognito" in a]


def test_iam_mode_requires_sigv4_and_creates_no_user_pool(prod: envroot.EnvRoot):
    resources = created(prod, {"auth_mode": "iam"})
    method = resources["module.api.aws_api_gateway_method.post"]
    assert method["authorization"] == "AWS_IAM" and method["api_key_required"] is False
    assert not [a for a in resources if "cognito" in a or "usage_plan" in a]


def test_instance_storage_types_get_no_kms_volume_key(prod: envroot.EnvRoot):
    # AWS refuses KmsKeyId for instance types with NVMe storage (ml.g5: hardware-encrypted)
    resources = created(prod, {"instance_type": "ml.g5.xlarge"})
    config = resources["module.endpoint.aws_sagemaker_endpoint_configuration.this"]
    assert config["kms_key_arn"] is None
    (variant,) = config["production_variants"]
    assert variant.get("volume_size_in_gb") is None
    image = resources["module.endpoint.aws_sagemaker_model.this"]["primary_container"][0]["image"]
    assert image.endswith("-gpu-py312-cu124-ubuntu22.04-v2.1"), image


def test_the_dlc_region_map_names_real_regions_only():
    import re

    import botocore.loaders

    endpoints = botocore.loaders.Loader().load_data("endpoints")
    regions = {r for partition in endpoints["partitions"] for r in partition["regions"]}
    main_tf = (Path(__file__).resolve().parents[2] / "terraform/modules/sagemaker-endpoint/main.tf").read_text()
    block = main_tf[main_tf.index("dlc_accounts = {") : main_tf.index("}", main_tf.index("dlc_accounts = {"))]
    mapped = dict(re.findall(r'"([a-z0-9-]+)"\s*=\s*"([0-9]{12})"', block))
    assert len(mapped) >= 38 and {"ap-northeast-3", "mx-central-1", "ap-southeast-7"} <= mapped.keys()
    assert sorted(set(mapped) - regions) == [], "every mapped region is an AWS region (botocore's endpoints)"
