"""Each emulator shim closes a real moto gap: every test runs once on plain moto (the gap shows) and
once with the shims (the gap is closed), through boto3 against moto's in-process mock."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from hubdeploy.infra.emulator import shims

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.6.0-cpu"
ALARM_CONFIG = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "five-xx"}]}}


@pytest.fixture
def shimmed(aws_credentials: None) -> Iterator[None]:
    """moto with every shim applied."""
    shims.apply_all()
    with mock_aws():
        yield
    shims.revert_all()


def sagemaker():
    return boto3.client("sagemaker", region_name="us-east-1")


def make_model(name: str = "m1") -> None:
    sagemaker().create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"},
    )


def make_config(name: str, model: str = "m1", instance_type: str = "ml.m5.large") -> None:
    sagemaker().create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "v", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": instance_type}
        ],
    )


def test_gap1_describe_model_has_no_empty_vpc_config(mode: str):
    make_model()
    has_vpc = "VpcConfig" in sagemaker().describe_model(ModelName="m1")
    assert has_vpc is (mode == "plain")


def test_gap9_model_keeps_network_isolation(mode: str):
    sagemaker().create_model(
        ModelName="isolated",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"},
        EnableNetworkIsolation=True,
    )
    isolated = sagemaker().describe_model(ModelName="isolated")["EnableNetworkIsolation"]
    assert isolated is (mode == "shimmed")


def test_gap2_describe_endpoint_config_has_no_empty_blocks(mode: str):
    make_model()
    make_config("c1")
    described = sagemaker().describe_endpoint_config(EndpointConfigName="c1")
    empty_blocks = {k for k in ("DataCaptureConfig", "AsyncInferenceConfig") if k in described}
    assert bool(empty_blocks) is (mode == "plain")


def test_gap3_endpoint_keeps_its_deployment_config(mode: str):
    make_model()
    make_config("c1")
    sagemaker().create_endpoint(EndpointName="e", EndpointConfigName="c1", DeploymentConfig=ALARM_CONFIG)
    described = sagemaker().describe_endpoint(EndpointName="e")
    if mode == "plain":
        assert "LastDeploymentConfig" not in described
    else:
        assert described["LastDeploymentConfig"] == ALARM_CONFIG


def test_gap4_update_endpoint_points_at_the_new_config(mode: str):
    make_model()
    make_config("c1")
    make_model("m2")
    make_config("c2", model="m2")
    client = sagemaker()
    client.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    if mode == "plain":
        with pytest.raises(Exception, match="not been implemented"):
            client.update_endpoint(EndpointName="e", EndpointConfigName="c2")
        return
    client.update_endpoint(EndpointName="e", EndpointConfigName="c2", DeploymentConfig=ALARM_CONFIG)
    described = client.describe_endpoint(EndpointName="e")
    assert described["EndpointConfigName"] == "c2"
    assert described["EndpointStatus"] == "InService"
    assert described["LastDeploymentConfig"] == ALARM_CONFIG


def test_gap4_update_endpoint_rejects_unknown_config(shimmed: None):
    make_model()
    make_config("c1")
    client = sagemaker()
    client.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        client.update_endpoint(EndpointName="e", EndpointConfigName="missing")
    assert client.describe_endpoint(EndpointName="e")["EndpointConfigName"] == "c1"


def test_gap5_application_autoscaling_tags(mode: str):
    client = boto3.client("application-autoscaling", region_name="us-east-1")
    arn = client.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/e/variant/v",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"env": "dev"},
    )["ScalableTargetARN"]
    if mode == "plain":
        with pytest.raises(Exception, match="not been implemented"):
            client.list_tags_for_resource(ResourceARN=arn)
        return
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "dev"}
    client.tag_resource(ResourceARN=arn, Tags={"team": "ml"})
    client.untag_resource(ResourceARN=arn, TagKeys=["env"])
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "ml"}


def test_gap6_current_instance_families_are_accepted(mode: str):
    make_model()
    if mode == "plain":
        with pytest.raises(ClientError, match="instanceType"):
            make_config("c1", instance_type="ml.g5.xlarge")
        return
    make_config("c1", instance_type="ml.g5.xlarge")
    with pytest.raises(ClientError, match="instanceType"):
        make_config("c2", instance_type="m5.large")


def test_apply_all_is_idempotent_and_revertible(aws_credentials: None):
    from moto.sagemaker.responses import SageMakerResponse

    shims.revert_all()
    assert not hasattr(SageMakerResponse, "update_endpoint")
    shims.apply_all()
    shims.apply_all()
    assert hasattr(SageMakerResponse, "update_endpoint")
    shims.revert_all()
    assert not hasattr(SageMakerResponse, "update_endpoint")


def test_gap7_cognito_resource_server_can_be_deleted(mode: str):
    client = boto3.client("cognito-idp", region_name="us-east-1")
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client.create_resource_server(UserPoolId=pool, Identifier="api", Name="api", Scopes=[])
    if mode == "plain":
        with pytest.raises(Exception, match="not been implemented"):
            client.delete_resource_server(UserPoolId=pool, Identifier="api")
        return
    client.delete_resource_server(UserPoolId=pool, Identifier="api")
    assert client.list_resource_servers(UserPoolId=pool, MaxResults=10)["ResourceServers"] == []
    with pytest.raises(ClientError, match="ResourceNotFound"):
        client.delete_resource_server(UserPoolId=pool, Identifier="api")
