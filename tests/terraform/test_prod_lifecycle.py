"""prod applied against the strict emulator, not only planned: create (two instances, KMS volume key,
autoscaling, canary blue/green whose rollback alarms the execution role may read) -> autoscaling takes the
variant to 5 -> the re-plan stays "No changes" -> pin change planned at 5, and again at 6 after autoscaling
moved on, with the same plan hash -> apply: the endpoint keeps 6 instances -> no-op re-plan -> destroy
leaves nothing.

The tests run in order and share one deployment (one apply per step). Plan files live in the env's data
dir: `stack.root()` re-syncs the work copy and drops any other file the checkout does not have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubdeploy.gitops.planhash import plan_hash
from hubdeploy.gitops.plansummary import summarize
from hubdeploy.infra import envroot

pytestmark = pytest.mark.terraform

ENV = "prod"
NAME = "hubdeploy-prod"
CONFIG = "module.endpoint.aws_sagemaker_endpoint_configuration.this"
HOLDER = "module.endpoint.terraform_data.initial_instance_count[0]"
ALARMS = ("invocation-5xx", "invocation-4xx", "model-latency")


class Deployment:
    """What the tests learn along the way (module-scoped)."""

    root: envroot.EnvRoot
    outputs: dict[str, Any]
    pin_change: envroot.Plan
    pin_change_hashes: list[str]


@pytest.fixture(scope="module")
def deployment(stack, tiny_model_dir: Path) -> Deployment:
    """prod pinned to the tiny model, published and applied (no endpoint yet: no observed count)."""
    d = Deployment()
    stack.pin(ENV, stack.cache_model(tiny_model_dir))
    stack.publish(ENV)
    d.root = stack.root(ENV)
    envroot.init(d.root, state_bucket=stack.state_bucket, region="us-east-1")
    assert envroot.observed_instance_count(d.root) is None, "no endpoint yet"
    plan = envroot.plan(d.root)
    envroot.apply(d.root, plan.path)
    d.outputs = envroot.output_json(d.root)
    d.pin_change_hashes = []
    return d


def sagemaker(stack) -> Any:
    return stack.client("sagemaker")


def desired_count(stack) -> int:
    (variant,) = sagemaker(stack).describe_endpoint(EndpointName=NAME)["ProductionVariants"]
    return int(variant["DesiredInstanceCount"])


def autoscale_to(stack, count: int) -> None:
    """What Application Auto Scaling does to the variant (the emulator runs no scaling policy)."""
    sagemaker(stack).update_endpoint_weights_and_capacities(
        EndpointName=NAME, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": count}]
    )
    assert desired_count(stack) == count


def planned(root: envroot.EnvRoot, plan: envroot.Plan) -> dict[str, Any]:
    return envroot.show_json(root, plan.path)


def change_of(doc: dict[str, Any], address: str) -> dict[str, Any]:
    return next(c for c in doc["resource_changes"] if c["address"] == address)["change"]


def test_prod_is_created_with_two_encrypted_instances_and_alarm_rollback(deployment: Deployment, stack):
    sm = sagemaker(stack)
    assert desired_count(stack) == 2
    config = sm.describe_endpoint_config(EndpointConfigName=deployment.outputs["endpoint_config_name"])
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.xlarge", 2)
    assert config["KmsKeyId"].startswith("arn:aws:kms:"), "EBS volumes under the module's key"
    endpoint = sm.describe_endpoint(EndpointName=NAME)
    alarms = endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert {a["AlarmName"] for a in alarms} == {f"{NAME}-{a}" for a in ALARMS}


def test_the_execution_role_may_read_exactly_the_rollback_alarms(deployment: Deployment, stack):
    # (the strict emulator refused CreateEndpoint without this statement, as AWS does)
    import json

    iam = stack.client("iam")
    model = sagemaker(stack).describe_model(ModelName=deployment.outputs["model_name"])
    role = model["ExecutionRoleArn"].rsplit("/", 1)[1]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    doc = json.loads(document) if isinstance(document, str) else document
    statement = next(s for s in doc["Statement"] if s.get("Sid") == "ReadRollbackAlarms")
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert sorted(resources) == sorted(f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{NAME}-{a}" for a in ALARMS)


def test_a_replan_after_autoscaling_moved_the_count_is_a_no_op(deployment: Deployment, stack):
    # given autoscaling has taken the variant from 2 to 5
    autoscale_to(stack, 5)
    # when prod is planned again (hubdeploy passes the observed count), then nothing changes
    assert envroot.observed_instance_count(deployment.root) == 5
    plan = envroot.plan(deployment.root)
    doc = planned(deployment.root, plan)
    assert doc["variables"]["observed_instance_count"]["value"] == 5
    assert not plan.has_changes, envroot.resource_changes(doc)
    assert summarize(doc).line().startswith("No changes")


def test_a_pin_change_starts_the_new_configuration_at_the_current_count(
    deployment: Deployment, stack, tiny_model_dir_v2: Path
):
    stack.pin(ENV, stack.cache_model(tiny_model_dir_v2))
    stack.publish(ENV)
    root = stack.root(ENV)
    plan = envroot.plan(root, out=root.data_dir / "pin-at-5.tfplan")
    doc = planned(root, plan)
    changes = envroot.resource_changes(doc)
    assert changes[CONFIG] == ("create", "delete") and changes[HOLDER] == ("create", "delete")
    config = change_of(doc, CONFIG)
    (variant,) = config["after"]["production_variants"]
    assert variant["initial_instance_count"] == 5, "known at plan time, the variant's current count"
    note = summarize(doc).capacity_note
    assert note == "the new configuration starts at 5 instances, the variant's current count (autoscaling 2-6)"
    deployment.pin_change_hashes.append(plan_hash(doc))


def test_the_deploy_plan_follows_autoscaling_with_the_reviewed_hash(deployment: Deployment, stack):
    # given autoscaling moved on between the PR plan and the deploy plan
    autoscale_to(stack, 6)
    root = stack.root(ENV)
    deployment.pin_change = envroot.plan(root, out=root.data_dir / "pin-at-6.tfplan")
    doc = planned(root, deployment.pin_change)
    (variant,) = change_of(doc, CONFIG)["after"]["production_variants"]
    assert variant["initial_instance_count"] == 6
    # then the plan hash is the reviewed one: the count is "where the endpoint is", not a number
    assert plan_hash(doc) == deployment.pin_change_hashes[0]


def test_the_hash_still_sees_a_changed_count_without_autoscaling(deployment: Deployment, stack):
    root = stack.root(ENV)
    hashes = []
    for count in (3, 4):
        plan = envroot.plan(
            root, out=root.data_dir / f"fixed-{count}.tfplan", variables={"autoscaling": None, "instance_count": count}
        )
        doc = planned(root, plan)
        (variant,) = change_of(doc, CONFIG)["after"]["production_variants"]
        assert variant["initial_instance_count"] == count, "without autoscaling, instance_count decides"
        hashes.append(plan_hash(doc))
    assert hashes[0] != hashes[1]


def test_applying_the_pin_change_keeps_the_capacity(deployment: Deployment, stack):
    root = stack.root(ENV)
    envroot.apply(root, deployment.pin_change.path)
    outputs = envroot.output_json(root)
    assert outputs["endpoint_config_name"] != deployment.outputs["endpoint_config_name"]
    endpoint = sagemaker(stack).describe_endpoint(EndpointName=NAME)
    assert endpoint["EndpointConfigName"] == outputs["endpoint_config_name"]
    # UpdateEndpoint resets the variant to the new configuration's initial count, which is 6
    assert desired_count(stack) == 6
    plan = envroot.plan(root)
    assert not plan.has_changes, envroot.resource_changes(planned(root, plan))


def test_destroy_leaves_nothing_behind(deployment: Deployment, stack):
    root = stack.root(ENV)
    envroot.destroy(root)
    assert envroot.state_resources(root) == []
    sm = sagemaker(stack)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    targets = stack.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []
    alarms = stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert not [a for a in alarms if a["AlarmName"].startswith(NAME)]
    roles = [r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(NAME)]
