"""Fixtures for the local stack: tiny model artifacts, a deployer, and a running local runtime."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubdeploy.local.runtime import LocalRuntime, runtime_from_env
from tests.local.helpers import REPO_ROOT, Deployer, tar_model


@pytest.fixture(scope="session")
def tiny_tar(tiny_model_dir: Path) -> bytes:
    return tar_model(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_tar_v2(tiny_model_dir_v2: Path) -> bytes:
    return tar_model(tiny_model_dir_v2)


@pytest.fixture
def deployer(emulator) -> Deployer:
    return Deployer()


@pytest.fixture
def runtime(emulator, deployer: Deployer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRuntime]:
    """A started runtime (cache in tmp) with `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` pointing at it."""
    rt = runtime_from_env(
        cache_dir=tmp_path / "runtime-cache",
        default_endpoint=deployer.endpoint_name,
        region="us-east-1",
        endpoint_url=emulator.endpoint_url,
    )
    rt.resolve_ttl = 0.0  # tests redeploy and expect the next call to see it
    rt.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", rt.url)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture
def broken_code_dir(tmp_path: Path) -> Path:
    """The repo's model/code with an inference.py whose model_fn fails (a model that cannot load)."""
    code = tmp_path / "broken-code"
    shutil.copytree(REPO_ROOT / "model" / "code", code)
    (code / "inference.py").write_text(
        (code / "inference.py").read_text() + "\n\ndef model_fn(model_dir, context=None):\n"
        "    raise RuntimeError('weights do not match the config')\n"
    )
    return code
