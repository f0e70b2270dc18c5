"""The serving tests again, under the transformers of AWS's current Hugging Face PyTorch inference container.

The container (huggingface-pytorch-inference:2.6.0-transformers4.51.3-*-py312) ships transformers 4.51.3;
our test venv has transformers 5. inference.py must work with both, so test_inference.py and
test_toolkit.py run a second time in a subprocess whose PYTHONPATH puts transformers 4.51.3 (and the
tokenizers/huggingface_hub it needs) in front of the venv. torch stays the venv's. test_toolkit.py serves
through `hubdeploy.local.toolkit`, so the rerun also proves that the local runtime's host imports and
serves under the container's transformers.

Create that overlay with (about 10 s; the Makefile bootstrap is meant to run the same):
    .venv/bin/pip install --no-deps --target .venv/dlc-site \
        transformers==4.51.3 tokenizers==0.21.1 huggingface_hub==0.30.2
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import require_tool

pytestmark = pytest.mark.model

REPO_ROOT = Path(__file__).resolve().parents[2]
DLC_SITE = REPO_ROOT / ".venv" / "dlc-site"
DLC_TRANSFORMERS = "4.51.3"
INSTALL = (
    ".venv/bin/pip install --no-deps --target .venv/dlc-site "
    f"transformers=={DLC_TRANSFORMERS} tokenizers==0.21.1 huggingface_hub==0.30.2"
)


@pytest.fixture(scope="module")
def dlc_env() -> dict[str, str]:
    require_tool(DLC_SITE / "transformers", install=INSTALL)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(DLC_SITE), env.get("PYTHONPATH", "")) if p)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_overlay_provides_the_containers_transformers_which_the_toolkit_imports_unpatched(dlc_env):
    probe = run(
        [
            "-c",
            "import transformers, transformers.file_utils as f; "
            "print(transformers.__version__, hasattr(f, 'is_tf_available'))",
        ],
        dlc_env,
    )

    assert probe.returncode == 0, probe.stderr[-2000:]
    # is_tf_available present: ensure_toolkit_importable() leaves transformers untouched in the rerun below.
    assert probe.stdout.split() == [DLC_TRANSFORMERS, "True"]


def test_serving_tests_pass_under_the_containers_transformers(dlc_env):
    result = run(
        [
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/model/test_inference.py",
            "tests/model/test_toolkit.py",
        ],
        dlc_env,
    )

    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert " passed" in result.stdout
