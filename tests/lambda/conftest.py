"""Fixtures for the Lambda handler tests: the lambda/ modules as the runtime imports them (zip root on
sys.path), recorded API Gateway events, and a SageMaker runtime client stubbed with botocore's Stubber."""

from __future__ import annotations

import copy
import importlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = REPO_ROOT / "lambda"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
LAMBDA_MODULES = ("handler", "apigw", "sagemaker_endpoint", "jsonlog")
ENDPOINT = "hubdeploy-dev-finbert"


@pytest.fixture(scope="module")
def lam() -> Iterator[SimpleNamespace]:
    """handler, apigw, sagemaker_endpoint, jsonlog imported from lambda/ (then removed again, so other
    tests that load lambda.zip get their own copies)."""
    sys.path.insert(0, str(LAMBDA_DIR))
    try:
        modules = {name: importlib.import_module(name) for name in LAMBDA_MODULES}
        yield SimpleNamespace(**modules)
    finally:
        sys.path.remove(str(LAMBDA_DIR))
        for name in LAMBDA_MODULES:
            sys.modules.pop(name, None)


@pytest.fixture
def config(lam):
    return lam.handler.Config(endpoint_name=ENDPOINT)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


@pytest.fixture
def event():
    """A recorded event by file name (a fresh copy each time)."""
    return lambda name: copy.deepcopy(load_event(name))


class FakeContext:
    """The Lambda runtime's context object (the attributes the handler reads)."""

    def __init__(self, remaining_ms: int = 29_000) -> None:
        self.aws_request_id = "8f5e2a8e-1111-2222-3333-444455556666"
        self.function_name = "hubdeploy-dev-api"
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def make_context():
    """FakeContext(remaining_ms=...) for tests about the time budget."""
    return FakeContext


@pytest.fixture
def sleeps(lam, monkeypatch) -> list[float]:
    """Backoff sleeps the handler asked for (not actually slept)."""
    recorded: list[float] = []
    monkeypatch.setattr(lam.sagemaker_endpoint, "sleep", recorded.append)
    return recorded


@pytest.fixture
def runtime(lam, aws_credentials, monkeypatch, sleeps):
    """The handler's real sagemaker-runtime client (its own config), wrapped in a botocore Stubber."""
    from botocore.stub import Stubber

    monkeypatch.setattr(lam.sagemaker_endpoint, "_client", None)
    client = lam.sagemaker_endpoint.client()
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _model_reply(entries: Any) -> dict[str, Any]:
    from botocore.response import StreamingBody

    data = entries if isinstance(entries, bytes) else json.dumps(entries).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"}


@pytest.fixture
def model_reply():
    """Builds an InvokeEndpoint response whose body is the model's JSON (or raw bytes)."""
    return _model_reply


@pytest.fixture
def log_lines(lam) -> Iterator[io.StringIO]:
    """The handler's JSON log lines, captured."""
    handler = lam.handler.logger.handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)
