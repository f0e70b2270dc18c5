"""Fixtures for the serving tests: the tiny model laid out as an unpacked model.tar.gz, loaded two ways."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CODE_DIR = Path(__file__).resolve().parents[2] / "model" / "code"


@pytest.fixture(scope="session")
def model_package_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What SageMaker unpacks to /opt/ml/model: the model files at the root plus code/inference.py."""
    root = tmp_path_factory.mktemp("opt-ml-model")
    shutil.copytree(tiny_model_dir, root, dirs_exist_ok=True)
    shutil.copytree(CODE_DIR, root / "code", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="session")
def inference() -> ModuleType:
    """model/code/inference.py imported as the toolkit imports it (module `inference` from the code dir)."""
    # By path, not `import inference`: another test in this process may have loaded an artifact's
    # inference.py under that name.
    sys.modules.pop("inference", None)
    spec = importlib.util.spec_from_file_location("inference", CODE_DIR / "inference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["inference"] = module  # as the toolkit's import leaves it (dataclasses look it up)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def classifier(inference: ModuleType, model_package_dir: Path) -> Any:
    """`model_fn` output for the tiny model with default settings."""
    return inference.model_fn(str(model_package_dir))
