"""Fixtures for the artifact pipeline: a repo with serving code, a pinned dev env, a fake Hub, S3 in moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from pipeline_helpers import FakeHub, fake_hub_handler

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin

# Stand-ins for the serving engineer's files, used only when the checkout does not have them yet.
FALLBACK_SERVING_FILES = {
    "model/code/inference.py": "def model_fn(model_dir):\n    return model_dir\n",
    "model/code/requirements.txt": "transformers==5.24.0\n",
    "lambda/handler.py": "def handler(event, context):\n    return {'statusCode': 200}\n",
}
ARTIFACT_BUCKET = "hubdeploy-artifacts-123456789012-us-east-1"


@pytest.fixture
def repo(scratch_repo: Path) -> Path:
    """A scratch checkout with model/code and lambda/ (the real ones when present)."""
    for rel, text in FALLBACK_SERVING_FILES.items():
        path = scratch_repo / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return scratch_repo


@pytest.fixture
def pinned(repo: Path, hf_cache: tuple[Path, str]) -> str:
    """dev and staging pinned to the tiny model's commit in the offline cache; returns that SHA."""
    _, revision = hf_cache
    for env in ("dev", "staging"):
        write_pin(repo, env, ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    return revision


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """HF_ENDPOINT points at a local fake Hub; online mode; no token."""
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake_hub_handler(hub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def s3(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An in-process moto S3 with the default artifact bucket created; yields a boto3 client."""
    import boto3
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=ARTIFACT_BUCKET)
        yield client
