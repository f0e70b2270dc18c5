"""Smoke test and rollback against the emulator (SageMaker control plane, with the UpdateEndpoint shim)
and a fake API on 127.0.0.1, through the real CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hubdeploy.cli import main
from hubdeploy.gitops import rollback
from hubdeploy.gitops import smoke as smoke_module
from hubdeploy.gitops.auth import StaticHeaders
from hubdeploy.gitops.smoke import load_golden
from hubdeploy.infra import aws
from hubdeploy.infra.envroot import read_outputs
from hubdeploy.settings import Settings

from .fakeapi import CLIENT_ID, CLIENT_SECRET, FakeApi, FakeApiServer

ROLE = "arn:aws:iam::123456789012:role/endpoint"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1.0-cpu"


@pytest.fixture
def fake_api():
    with FakeApiServer(FakeApi()) as api:
        yield api


@pytest.fixture
def sagemaker(emulator_session, monkeypatch):
    """SageMaker on the session emulator. No reset (slow with IAM's managed policies loaded): every
    test uses its own names (see `names`)."""
    for key, value in emulator_session.aws_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return aws.client("sagemaker", Settings.from_env())


@pytest.fixture
def ep():
    """A fresh endpoint name; its models and configs are named after it."""
    return f"dev-finbert-{uuid.uuid4().hex[:8]}"


def deploy(sagemaker, ep: str, version: str, *, update: bool = False) -> str:
    """What an apply does: a new model and config (create-before-destroy), endpoint pointed at it."""
    model, config = f"{ep}-{version}", f"{ep}-config-{version}"
    endpoint = ep
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://artifacts/{version}/model.tar.gz"},
        Tags=[{"Key": "hubdeploy:hub-revision", "Value": version}],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {"VariantName": "primary", "ModelName": model, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    if update:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    else:
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return config


def outputs_file(
    tmp_path: Path, api: FakeApi, config: str, ep: str, *, mode: str = "cognito", max_texts: int | None = None
) -> Path:
    auth = {"mode": mode, "client_id": CLIENT_ID, "token_url": f"{api.url}/oauth2/token", "scope": "hubdeploy/invoke"}
    outputs = {
        "api_url": {"value": f"{api.url}/dev", "type": "string", "sensitive": False},
        "endpoint_name": {"value": ep, "type": "string", "sensitive": False},
        "endpoint_config_name": {"value": config, "type": "string", "sensitive": False},
        "auth": {"value": auth, "type": ["object", {}], "sensitive": False},
        "auth_client_secret": {"value": CLIENT_SECRET, "type": "string", "sensitive": True},
    }
    if max_texts is not None:
        limits = {"max_texts": max_texts, "max_text_chars": 3072, "max_body_bytes": 65536}
        outputs["request_limits"] = {"value": limits, "type": ["object", {}], "sensitive": False}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


def smoke(outputs: Path, *extra: str) -> int:
    args = ["smoke", "--env", "dev", "--outputs-json", str(outputs), "--requests", "3", "--warmup-seconds", "0"]
    return main([*args, *extra])


@pytest.mark.emulator
def test_smoke_passes_with_a_cognito_token_and_the_applied_config(tmp_path, sagemaker, ep, fake_api, capsys):
    config = deploy(sagemaker, ep, "v1")
    assert smoke(outputs_file(tmp_path, fake_api, config, ep)) == 0
    out = capsys.readouterr().out
    assert "PASS  endpoint serves the applied config" in out and "PASS  anonymous request refused" in out
    assert fake_api.token_requests[0]["scope"] == "hubdeploy/invoke"
    assert CLIENT_SECRET not in out and "tok-123" not in out


@pytest.mark.emulator
def test_the_golden_set_is_sent_in_batches_the_env_accepts(tmp_path, sagemaker, ep, fake_api, capsys):
    # given an env whose API accepts at most 4 texts per request (request_limits output) and 6 golden sentences
    config = deploy(sagemaker, ep, "v1")
    fake_api.max_texts = 4
    golden, _ = load_golden()
    fake_api.labels = {g.text: g.label for g in golden}
    # when smoke runs without the limit it is refused; with the output it batches 4 + 2 and every label counts
    assert smoke(outputs_file(tmp_path, fake_api, config, ep), "--expect-labels") == 1
    assert "too_many_texts" in capsys.readouterr().out
    fake_api.calls.clear()
    assert smoke(outputs_file(tmp_path, fake_api, config, ep, max_texts=4), "--expect-labels") == 0
    assert f"PASS  labels match the golden set: {len(golden)}/{len(golden)} correct" in capsys.readouterr().out
    sizes = [len(json.loads(c["body"])["texts"]) for c in fake_api.calls if c["authorized"]]
    assert sizes[:2] == [4, len(golden) - 4] and max(sizes) <= 4


@pytest.mark.emulator
def test_expect_labels_fails_on_wrong_labels_shape_only_does_not(tmp_path, sagemaker, ep, fake_api, capsys):
    config = deploy(sagemaker, ep, "v1")
    outputs = outputs_file(tmp_path, fake_api, config, ep)
    assert smoke(outputs, "--shape-only") == 0  # the fake answers NEUTRAL to everything
    assert smoke(outputs, "--expect-labels") == 1
    assert "FAIL  labels match the golden set: 2/6 correct (need 100%)" in capsys.readouterr().out

    golden, _ = load_golden()
    fake_api.labels = {g.text: g.label for g in golden}
    assert smoke(outputs, "--expect-labels") == 0


@pytest.mark.emulator
def test_smoke_fails_when_the_endpoint_serves_another_config(tmp_path, sagemaker, ep, fake_api, capsys):
    deploy(sagemaker, ep, "v1")
    assert smoke(outputs_file(tmp_path, fake_api, f"{ep}-config-v2", ep)) == 1
    out = capsys.readouterr()
    assert f"FAIL  endpoint serves the applied config: serving {ep}-config-v1" in out.out
    assert "smoke test failed: endpoint serves the applied config" in out.err


@pytest.mark.emulator
def test_smoke_fails_when_anonymous_calls_are_accepted(tmp_path, sagemaker, ep, fake_api, capsys):
    fake_api.allow_anonymous = True
    assert smoke(outputs_file(tmp_path, fake_api, deploy(sagemaker, ep, "v1"), ep)) == 1
    assert "FAIL  anonymous request refused: HTTP 200" in capsys.readouterr().out


@pytest.mark.emulator
def test_smoke_fails_on_errors_and_slow_answers(tmp_path, sagemaker, ep, fake_api, capsys):
    outputs = outputs_file(tmp_path, fake_api, deploy(sagemaker, ep, "v1"), ep)
    fake_api.delay = 0.2
    assert smoke(outputs, "--latency-budget-ms", "50") == 1
    assert "FAIL  latency within budget" in capsys.readouterr().out
    fake_api.delay, fake_api.broken = 0.0, True
    assert smoke(outputs) == 1
    assert "FAIL  batch answered: HTTP 502" in capsys.readouterr().out


@pytest.mark.emulator
def test_a_cold_api_is_retried_within_the_warmup_window(tmp_path, sagemaker, ep, fake_api):
    target = smoke_module.target_from_outputs(
        "dev", read_outputs(None, "dev", outputs_file(tmp_path, fake_api, "c", ep))
    )
    golden, labels = load_golden()
    auth = StaticHeaders({"Authorization": "Bearer tok-123"})
    waits: list[float] = []

    fake_api.cold_calls = 2
    report = smoke_module.run_smoke(
        target, authorizer=auth, golden=golden, labels=labels, warmup_seconds=60, sleep=waits.append
    )
    assert report.ok and len(waits) == 2

    fake_api.cold_calls = 2
    report = smoke_module.run_smoke(target, authorizer=auth, golden=golden, labels=labels, warmup_seconds=0)
    assert not report.ok and "HTTP 503" in report.lines()[1]


@pytest.mark.emulator
def test_smoke_with_bad_client_secret_says_so(tmp_path, sagemaker, ep, fake_api, capsys):
    outputs = outputs_file(tmp_path, fake_api, deploy(sagemaker, ep, "v1"), ep)
    data = json.loads(outputs.read_text())
    data["auth_client_secret"]["value"] = "wrong"
    outputs.write_text(json.dumps(data))
    assert smoke(outputs) == 1
    assert "Cognito token endpoint refused" in capsys.readouterr().err


@pytest.mark.unit
def test_smoke_refuses_missing_outputs_and_plain_http(tmp_path, fake_api, capsys, aws_credentials):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"api_url": "https://x.example/dev"}))
    assert smoke(path, "--skip-endpoint-check") == 1
    assert "terraform outputs lack endpoint_name, endpoint_config_name, auth" in capsys.readouterr().err
    path.write_text(
        json.dumps({"api_url": "http://x.example/dev", "endpoint_name": "e", "endpoint_config_name": "c", "auth": {}})
    )
    assert smoke(path, "--skip-endpoint-check") == 1
    assert "is not an https URL" in capsys.readouterr().err


@pytest.mark.emulator
def test_record_then_rollback_recreates_the_deleted_config_and_points_back(tmp_path, sagemaker, ep, fake_api, capsys):
    old = deploy(sagemaker, ep, "v1")
    record = tmp_path / "previous.json"
    outputs = outputs_file(tmp_path, fake_api, old, ep)
    assert main(["record-endpoint", "--env", "dev", "--out", str(record), "--outputs-json", str(outputs)]) == 0
    saved = json.loads(record.read_text())
    assert saved["endpoint_config"]["EndpointConfigName"] == old
    assert saved["models"][0]["PrimaryContainer"]["ModelDataUrl"] == "s3://artifacts/v1/model.tar.gz"

    # the apply: new model + config, endpoint updated, old config and model deleted (create_before_destroy)
    new = deploy(sagemaker, ep, "v2", update=True)
    sagemaker.delete_endpoint_config(EndpointConfigName=old)
    sagemaker.delete_model(ModelName=f"{ep}-v1")
    # the smoke test of the new config fails (it expects the new config; the API is broken)
    fake_api.broken = True
    assert smoke(outputs_file(tmp_path, fake_api, new, ep)) == 1

    assert main(["rollback", "--env", "dev", "--record", str(record), "--poll", "0.1"]) == 0
    out = capsys.readouterr().out
    assert f"now serves {old} again (was {new}" in out
    assert f"re-created model {ep}-v1" in out and f"re-created endpoint config {old}" in out
    assert sagemaker.describe_endpoint(EndpointName=ep)["EndpointConfigName"] == old
    model = sagemaker.describe_model(ModelName=f"{ep}-v1")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://artifacts/v1/model.tar.gz"


@pytest.mark.emulator
def test_rollback_when_the_old_config_still_exists_only_updates(sagemaker, ep):
    old = deploy(sagemaker, ep, "v1")
    record = rollback.record_endpoint(sagemaker, env="dev", endpoint_name=ep)
    deploy(sagemaker, ep, "v2", update=True)
    result = rollback.rollback(sagemaker, record, poll=0.1)
    assert (result.to_config, result.recreated) == (old, ())
    assert rollback.rollback(sagemaker, record, poll=0.1).from_config == old  # already there: a no-op


@pytest.mark.emulator
def test_first_deploy_has_nothing_to_roll_back_to(tmp_path, sagemaker, ep, fake_api, capsys):
    record = tmp_path / "previous.json"
    outputs = outputs_file(tmp_path, fake_api, "none-yet", ep)
    assert main(["record-endpoint", "--env", "dev", "--out", str(record), "--outputs-json", str(outputs)]) == 0
    assert "no endpoint yet (first deploy)" in capsys.readouterr().out
    assert main(["rollback", "--env", "dev", "--record", str(record)]) == 1
    assert "no previous endpoint configuration recorded" in capsys.readouterr().err


@pytest.mark.emulator
def test_rollback_refuses_a_record_of_another_env(tmp_path, sagemaker, ep, capsys):
    deploy(sagemaker, ep, "v1")
    record = tmp_path / "r.json"
    rollback.save_record(record, rollback.record_endpoint(sagemaker, env="staging", endpoint_name=ep))
    assert main(["rollback", "--env", "dev", "--record", str(record)]) == 1
    assert "recorded for staging, not dev" in capsys.readouterr().err
