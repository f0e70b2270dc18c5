"""bench.environment: variables set for a block come back as they were, set or unset, even after an error."""

from __future__ import annotations

import os

import pytest

from bench.environment import environment

pytestmark = pytest.mark.unit


def test_each_variable_gets_its_earlier_value_back_set_or_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")
    monkeypatch.delenv("HUBDEPLOY_NUM_THREADS", raising=False)
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "2")

    with (
        pytest.raises(RuntimeError),
        environment(HUBDEPLOY_PRECISION="int8", HUBDEPLOY_NUM_THREADS="1", SAGEMAKER_MODEL_SERVER_WORKERS=None),
    ):
        assert (os.environ["HUBDEPLOY_PRECISION"], os.environ["HUBDEPLOY_NUM_THREADS"]) == ("int8", "1")
        assert "SAGEMAKER_MODEL_SERVER_WORKERS" not in os.environ
        raise RuntimeError("the benchmark failed midway")

    assert os.environ["HUBDEPLOY_PRECISION"] == "fp32"
    assert "HUBDEPLOY_NUM_THREADS" not in os.environ
    assert os.environ["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"
