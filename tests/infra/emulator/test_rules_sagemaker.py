"""The strict emulator's SageMaker rules: plain moto (gap shims only) accepts each request, the strict
emulator refuses it as AWS does, and the same request shaped the way AWS accepts it passes both.
Also the UpdateEndpoint capacity behaviour the prod lifecycle test relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.infra.emulator.rules import sagemaker as rules

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
STOCK_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:"
    "2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04-v2.1"
)
SLIM_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/hubdeploy-serving-slim:1.0"
SERVERLESS = {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
ALARMS = ["hubdeploy-prod-invocation-5xx", "hubdeploy-prod-model-latency"]
BLUE_GREEN = {
    "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 60}},
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in ALARMS]},
}


def sagemaker():
    return boto3.client("sagemaker", region_name="us-east-1")


def make_role(name: str, statements: list[dict] | None = None) -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="endpoint-runtime", PolicyDocument=json.dumps(document))
    return arn


def make_model(name: str, *, image: str = STOCK_IMAGE, isolation: bool = False, role: str | None = None) -> None:
    sagemaker().create_model(
        ModelName=name,
        ExecutionRoleArn=role or f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
        PrimaryContainer={"Image": image, "ModelDataUrl": "s3://bucket/model.tar.gz"},
        EnableNetworkIsolation=isolation,
    )


def variant(model: str, **extra) -> dict:
    return {"VariantName": "primary", "ModelName": model, "InitialVariantWeight": 1.0, **extra}


def refused(call, match: str) -> None:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert re.search(match, error.value.response["Error"]["Message"]), error.value.response["Error"]["Message"]


def outcome(strictness: str, call, match: str) -> None:
    """Plain moto accepts `call`; the strict emulator refuses it with a ValidationException matching `match`."""
    if strictness == "plain":
        call()
    else:
        refused(call, match)


# --- finding 1: serverless ---------------------------------------------------------------------


def test_serverless_refuses_network_isolation(strictness: str):
    make_model("isolated", image=SLIM_IMAGE, isolation=True)
    config = variant("isolated", ServerlessConfig=SERVERLESS)
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint_config(EndpointConfigName="c", ProductionVariants=[config]),
        "Network isolation is not supported for serverless",
    )


def test_serverless_refuses_stock_hf_image(strictness: str):
    make_model("stock", image=STOCK_IMAGE)
    config = variant("stock", ServerlessConfig=SERVERLESS)
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint_config(EndpointConfigName="c", ProductionVariants=[config]),
        "not supported for serverless inference.*10 GB",
    )


def test_serverless_with_a_slim_image_and_no_isolation_passes_both(strictness: str):
    make_model("slim", image=SLIM_IMAGE)
    sagemaker().create_endpoint_config(
        EndpointConfigName="c", ProductionVariants=[variant("slim", ServerlessConfig=SERVERLESS)]
    )


def test_instances_keep_network_isolation_and_the_stock_image(strictness: str):
    make_model("m", isolation=True)
    sagemaker().create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[variant("m", InstanceType="ml.t2.medium", InitialInstanceCount=1)],
        KmsKeyId=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )


# --- finding 6: NVMe instance storage ---------------------------------------------------------------

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("instance_type", ["ml.g4dn.xlarge", "ml.g5.xlarge", "ml.g6.xlarge", "ml.m5d.large"])
def test_kms_key_refused_for_instance_storage(strictness: str, instance_type: str):
    make_model("m")
    config = variant("m", InstanceType=instance_type, InitialInstanceCount=1)
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint_config(EndpointConfigName="c", ProductionVariants=[config], KmsKeyId=KEY),
        f"KmsKeyId is not supported for instance type {re.escape(instance_type)}",
    )


def test_volume_size_refused_for_instance_storage(strictness: str):
    make_model("m")
    config = variant("m", InstanceType="ml.g5.xlarge", InitialInstanceCount=1, VolumeSizeInGB=64)
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint_config(EndpointConfigName="c", ProductionVariants=[config]),
        "VolumeSizeInGB is not supported for instance type ml.g5.xlarge",
    )


def test_gpu_instance_storage_without_key_or_volume_passes_both(strictness: str):
    make_model("m")
    sagemaker().create_endpoint_config(
        EndpointConfigName="c", ProductionVariants=[variant("m", InstanceType="ml.g5.xlarge", InitialInstanceCount=1)]
    )


@pytest.mark.parametrize(
    ("instance_type", "has_storage"),
    [
        ("ml.t2.medium", False),
        ("ml.m5.large", False),
        ("ml.c6gn.xlarge", False),
        ("ml.inf2.xlarge", False),
        ("ml.p3.2xlarge", False),
        ("ml.g4dn.xlarge", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4de.24xlarge", True),
        ("ml.r7gd.large", True),
        ("ml.p6-b200.48xlarge", True),
        ("ml.trn1.2xlarge", True),
    ],
)
def test_instance_storage_pattern(instance_type: str, has_storage: bool):
    assert bool(rules.INSTANCE_STORAGE.match(instance_type)) is has_storage


def test_the_module_and_the_emulator_agree_on_instance_storage_types():
    # given the pattern in the module (locals and the volume_size_in_gb validation) and in the rule
    module = REPO_ROOT / "terraform" / "modules" / "sagemaker-endpoint"
    hcl = (module / "main.tf").read_text() + (module / "variables.tf").read_text()
    patterns = {p.replace("\\\\", "\\") for p in re.findall(r'"(\^ml\\\\\.\(\[a-z\]\+[^"]+)"', hcl)}
    patterns |= {p.replace("\\\\", "\\") for p in re.findall(r'regex\("(\^ml\\\\\.\(\[a-z\][^"]+)"', hcl)}
    assert patterns == {rules.INSTANCE_STORAGE.pattern}, patterns


# --- finding 5: rollback alarms ------------------------------------------------------------------------


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}"


def endpoint_with_role(statements: list[dict] | None) -> None:
    role = make_role("endpoint-role", statements)
    make_model("m", role=role)
    sagemaker().create_endpoint_config(
        EndpointConfigName="c1", ProductionVariants=[variant("m", InstanceType="ml.m5.large", InitialInstanceCount=2)]
    )


def test_rollback_alarms_need_describe_alarms_on_create(strictness: str):
    endpoint_with_role([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1", DeploymentConfig=BLUE_GREEN),
        r"not authorized to perform cloudwatch:DescribeAlarms on arn:aws:cloudwatch:us-east-1:\d+:alarm:hubdeploy-prod",
    )


def test_rollback_alarms_need_describe_alarms_on_update(strictness: str):
    # on only one of the two alarms
    endpoint_with_role([{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": alarm_arn(ALARMS[0])}])
    sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1")
    sagemaker().create_endpoint_config(
        EndpointConfigName="c2", ProductionVariants=[variant("m", InstanceType="ml.m5.large", InitialInstanceCount=2)]
    )
    outcome(
        strictness,
        lambda: sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="c2", DeploymentConfig=BLUE_GREEN),
        f"cloudwatch:DescribeAlarms on {re.escape(alarm_arn(ALARMS[1]))}",
    )


def test_rollback_alarms_readable_by_the_role_pass_both(strictness: str):
    endpoint_with_role(
        [{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": [alarm_arn(a) for a in ALARMS]}]
    )
    sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1", DeploymentConfig=BLUE_GREEN)


def test_an_explicit_deny_on_an_alarm_is_refused(strictness: str):
    endpoint_with_role(
        [
            {"Effect": "Allow", "Action": "cloudwatch:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudwatch:DescribeAlarms", "Resource": alarm_arn(ALARMS[1])},
        ]
    )
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1", DeploymentConfig=BLUE_GREEN),
        "not authorized to perform cloudwatch:DescribeAlarms",
    )


def test_the_roles_permissions_boundary_must_allow_describe_alarms_too(strictness: str):
    iam = boto3.client("iam", region_name="us-east-1")
    boundary = iam.create_policy(
        PolicyName="stack-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    allow = {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"}
    role = make_role("bounded-role", [allow])
    iam.put_role_permissions_boundary(RoleName="bounded-role", PermissionsBoundary=boundary)
    make_model("m", role=role)
    sagemaker().create_endpoint_config(
        EndpointConfigName="c1", ProductionVariants=[variant("m", InstanceType="ml.m5.large", InitialInstanceCount=2)]
    )
    outcome(
        strictness,
        lambda: sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1", DeploymentConfig=BLUE_GREEN),
        "not authorized to perform cloudwatch:DescribeAlarms",
    )


# --- finding 4: capacity across UpdateEndpoint (gap shim 4, both modes) -----------------------------


def desired(name: str = "e") -> int:
    (v,) = sagemaker().describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
    return int(v["DesiredInstanceCount"])


def autoscaled_endpoint() -> None:
    """An endpoint created at 2 instances that autoscaling has moved to 6, and a new config starting at 2."""
    make_model("m")
    for config in ("c1", "c2"):
        sagemaker().create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[variant("m", InstanceType="ml.m5.xlarge", InitialInstanceCount=2)],
        )
    sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1")
    sagemaker().update_endpoint_weights_and_capacities(
        EndpointName="e", DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 6}]
    )
    assert desired() == 6, "UpdateEndpointWeightsAndCapacities sets the desired count (how tests scale)"


def test_update_endpoint_resets_the_count_to_the_new_configs_initial_count(strictness: str):
    autoscaled_endpoint()
    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="c2")
    assert desired() == 2, "AWS: without RetainAllVariantProperties the new config's InitialInstanceCount wins"


def test_update_endpoint_retaining_variant_properties_keeps_the_count(strictness: str):
    autoscaled_endpoint()
    sagemaker().update_endpoint(EndpointName="e", EndpointConfigName="c2", RetainAllVariantProperties=True)
    assert desired() == 6
    sagemaker().update_endpoint(
        EndpointName="e",
        EndpointConfigName="c1",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )
    assert desired() == 2, "an excluded property comes from the new configuration again"
