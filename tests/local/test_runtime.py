"""The local SageMaker runtime: boto3's InvokeEndpoint against what the emulated control plane deployed,
served through the real Hugging Face toolkit with the repo's model/code/inference.py."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.local.helpers import BUCKET, Deployer, invoke, tar_model

pytestmark = pytest.mark.model

LABELS = {"Neutral", "Positive", "Negative"}


@pytest.mark.emulator
def test_invoke_endpoint_serves_the_deployed_artifact(runtime, deployer: Deployer, tiny_tar: bytes) -> None:
    # given a tiny model deployed as model -> endpoint config -> endpoint
    sha = deployer.deploy(tiny_tar)
    # when boto3 invokes the endpoint with one text and with a batch
    headers, single = invoke(deployer.endpoint_name, {"inputs": "Operating profit rose to EUR 41 mn."})
    _, batch = invoke(deployer.endpoint_name, {"inputs": ["Sales fell 5%.", "The board met on Monday.", "Profit up."]})
    # then the answers have the toolkit's shape, and the runtime says which artifact answered
    assert len(single) == 1 and single[0]["label"] in LABELS and 0.0 <= single[0]["score"] <= 1.0
    assert [e["label"] in LABELS for e in batch] == [True, True, True]
    assert headers["x-hubdeploy-artifact-sha256"] == sha
    assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    status = json.loads(urllib.request.urlopen(runtime.url + "/local/status").read())
    assert status["endpoints"][deployer.endpoint_name]["artifact_sha256"] == sha
    assert status["endpoints"][deployer.endpoint_name]["digest_source"] == "tags of model model-1"


@pytest.mark.emulator
def test_container_contract_ping_and_invocations(runtime, deployer: Deployer, tiny_tar: bytes) -> None:
    deployer.deploy(tiny_tar)
    assert urllib.request.urlopen(runtime.url + "/ping").status == 200
    req = urllib.request.Request(
        runtime.url + "/invocations", data=b'{"inputs": ["a", "b"]}', headers={"Content-Type": "application/json"}
    )
    assert len(json.loads(urllib.request.urlopen(req).read())) == 2
    bad = urllib.request.Request(
        runtime.url + "/invocations", data=b"not json", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad)
    assert err.value.code == 400  # the container answers the model's status, no SageMaker envelope


@pytest.mark.emulator
def test_bad_request_is_a_model_error_with_the_original_status(runtime, deployer: Deployer, tiny_tar: bytes) -> None:
    deployer.deploy(tiny_tar)
    with pytest.raises(ClientError) as err:
        invoke(deployer.endpoint_name, b"not json")
    error = err.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "Received client error (400) from primary" in error["Error"]["Message"]


@pytest.mark.emulator
def test_unknown_endpoint_is_a_validation_error(runtime) -> None:
    with pytest.raises(ClientError) as err:
        invoke("no-such-endpoint", {"inputs": "x"})
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Endpoint no-such-endpoint of account 123456789012 not found." in str(err.value)


@pytest.mark.emulator
def test_redeploy_serves_the_new_artifact(runtime, deployer: Deployer, tiny_tar: bytes, tiny_tar_v2: bytes) -> None:
    # given v1 served
    first = deployer.deploy(tiny_tar)
    headers, _ = invoke(deployer.endpoint_name, {"inputs": "Profit rose."})
    assert headers["x-hubdeploy-artifact-sha256"] == first
    # when a new model + config is applied and the endpoint updated in place
    second = deployer.deploy(tiny_tar_v2)
    headers, answer = invoke(deployer.endpoint_name, {"inputs": "Profit rose."})
    # then the next call is answered by the new artifact
    assert second != first
    assert headers["x-hubdeploy-artifact-sha256"] == second
    assert answer[0]["label"] in LABELS


@pytest.mark.emulator
def test_corrupt_artifact_is_refused_with_a_clear_error(runtime, deployer: Deployer, tiny_tar: bytes) -> None:
    # given a model whose recorded sha256 does not match the bytes in S3
    deployer.deploy(tiny_tar, tag_sha="0" * 64)
    # when invoked
    with pytest.raises(ClientError) as err:
        invoke(deployer.endpoint_name, {"inputs": "x"})
    # then SageMaker-style ModelError naming the checksum mismatch, and nothing unverified is cached
    assert err.value.response["Error"]["Code"] == "ModelError"
    assert "artifact corrupt" in str(err.value) and "checksum mismatch" in str(err.value)
    assert [p.name for p in Path(runtime.cache_dir).iterdir()] == []


@pytest.mark.emulator
def test_model_that_fails_to_load_is_a_model_error(
    runtime, deployer: Deployer, tiny_model_dir: Path, broken_code_dir: Path
) -> None:
    deployer.deploy(tar_model(tiny_model_dir, code_dir=broken_code_dir))
    with pytest.raises(ClientError) as err:
        invoke(deployer.endpoint_name, {"inputs": "x"})
    assert err.value.response["Error"]["Code"] == "ModelError"
    assert "model failed to load" in str(err.value) and "weights do not match the config" in str(err.value)


def test_runtime_without_the_emulator_answers_service_unavailable(tmp_path: Path, aws_credentials) -> None:
    from hubdeploy.local.runtime import LocalRuntime

    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    session = boto3.session.Session(region_name="us-east-1")
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 1}, connect_timeout=1)
    rt = LocalRuntime(
        sagemaker=session.client("sagemaker", endpoint_url=dead, config=cfg),
        s3=session.client("s3", endpoint_url=dead, config=cfg),
        cache_dir=tmp_path,
    ).start()
    try:
        client = session.client("sagemaker-runtime", endpoint_url=rt.url, config=cfg)
        with pytest.raises(ClientError) as err:
            client.invoke_endpoint(EndpointName="x", Body=b"{}", ContentType="application/json")
        assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert "AWS emulator" in str(err.value)
    finally:
        rt.stop()


@pytest.mark.emulator
def test_sha256_from_s3_object_tags_when_the_model_has_none(emulator, tmp_path: Path, tiny_tar: bytes) -> None:
    from hubdeploy.local.deployment import Deployment, expected_sha256

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="m.tar.gz", Body=tiny_tar, Tagging="sha256=" + "a" * 64)
    dep = Deployment("e", "c", "AllTraffic", "m", f"s3://{BUCKET}/m.tar.gz")
    assert expected_sha256(s3, dep) == ("a" * 64, f"tags of s3://{BUCKET}/m.tar.gz")
