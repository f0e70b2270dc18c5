"""The local SageMaker runtime: boto3's InvokeEndpoint against what the emulated control plane deployed,
served through the real Hugging Face toolkit with the repo's model/code/inference.py."""

from __future__ import annotations

import json
import threading
import time
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


def answered_by(endpoint: str, sha: str, *, within: float = 60.0) -> list[str]:
    """Invoke until `sha` answers (or `within` seconds pass); every artifact that answered, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        headers, answer = invoke(endpoint, {"inputs": "Profit rose."})
        assert answer[0]["label"] in LABELS
        seen.append(headers["x-hubdeploy-artifact-sha256"])
        if seen[-1] == sha:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{sha[:12]} never answered within {within} s; answers came from {set(seen)}")


def runtime_status(runtime) -> dict:
    return json.loads(urllib.request.urlopen(runtime.url + "/local/status").read())


@pytest.mark.emulator
def test_redeploy_serves_the_new_artifact(runtime, deployer: Deployer, tiny_tar: bytes, tiny_tar_v2: bytes) -> None:
    # given v1 served
    first = deployer.deploy(tiny_tar)
    headers, _ = invoke(deployer.endpoint_name, {"inputs": "Profit rose."})
    assert headers["x-hubdeploy-artifact-sha256"] == first
    # when a new model + config is applied and the endpoint updated in place
    second = deployer.deploy(tiny_tar_v2)
    # then calls are answered by v1 until v2 is loaded, then by v2 only
    seen = answered_by(deployer.endpoint_name, second)
    assert second != first and set(seen) <= {first, second}
    assert [invoke(deployer.endpoint_name, {"inputs": "x"})[0]["x-hubdeploy-artifact-sha256"] for _ in range(3)] == [
        second
    ] * 3
    assert runtime_status(runtime)["answered"][deployer.endpoint_name][second] >= 4


@pytest.mark.emulator
def test_requests_during_a_slow_load_are_answered_by_the_old_model(
    runtime, deployer: Deployer, tiny_tar: bytes, tiny_tar_v2: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hubdeploy.local.runtime as runtime_module

    first = deployer.deploy(tiny_tar)
    assert invoke(deployer.endpoint_name, {"inputs": "Profit rose."})[0]["x-hubdeploy-artifact-sha256"] == first
    # given loading the next model takes until the test releases it
    release, started = threading.Event(), threading.Event()
    real = runtime_module.ToolkitModel

    def slow_model(*args, **kwargs):
        started.set()
        assert release.wait(60), "the test never released the load"
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime_module, "ToolkitModel", slow_model)
    # when v2 is deployed while requests keep coming
    second = deployer.deploy(tiny_tar_v2)
    during = []
    for _ in range(6):
        started_at = time.monotonic()
        during.append(invoke(deployer.endpoint_name, {"inputs": "Profit rose."})[0]["x-hubdeploy-artifact-sha256"])
        assert time.monotonic() - started_at < 5, "a request waited for the load"
    assert started.wait(10), "the new model was never loaded"
    # then every request during the load was answered at once by v1, and the status says v2 is loading
    assert during == [first] * 6
    assert runtime_status(runtime)["loading"] == {deployer.endpoint_name: deployer.last_url}
    # and once loaded, v2 answers
    release.set()
    answered_by(deployer.endpoint_name, second)
    assert runtime_status(runtime)["loading"] == {}


@pytest.mark.emulator
def test_a_new_model_that_fails_to_load_leaves_the_old_one_serving(
    runtime, deployer: Deployer, tiny_tar: bytes, tiny_model_dir: Path, broken_code_dir: Path
) -> None:
    first = deployer.deploy(tiny_tar)
    assert invoke(deployer.endpoint_name, {"inputs": "x"})[0]["x-hubdeploy-artifact-sha256"] == first
    # when the endpoint is updated to a model whose code cannot load
    deployer.deploy(tar_model(tiny_model_dir, code_dir=broken_code_dir))
    deadline = time.monotonic() + 60
    while not runtime_status(runtime)["failed"] and time.monotonic() < deadline:
        assert invoke(deployer.endpoint_name, {"inputs": "x"})[0]["x-hubdeploy-artifact-sha256"] == first
        time.sleep(0.1)
    # then the old model keeps answering (as SageMaker keeps a failed update's endpoint InService on its old
    # config), the status says why the new one is not served, and a refresh reports the failure
    assert "weights do not match the config" in runtime_status(runtime)["failed"][deployer.endpoint_name]
    assert invoke(deployer.endpoint_name, {"inputs": "x"})[0]["x-hubdeploy-artifact-sha256"] == first
    refresh = urllib.request.Request(runtime.url + "/local/refresh", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(refresh)
    assert err.value.code == 424 and "model failed to load" in err.value.read().decode()
    assert runtime_status(runtime)["endpoints"][deployer.endpoint_name]["artifact_sha256"] == first


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
