"""The repository-wide checks `make lint` runs, as tests, plus the promise that pre-commit runs the
same commands as `make lint`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PY_DIRS = ["scripts", "tests", "lambda", "model", "bench"]

pytestmark = pytest.mark.lint


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_check_is_clean():
    proc = run([str(VENV_BIN / "ruff"), "check", *PY_DIRS])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean():
    proc = run([str(VENV_BIN / "ruff"), "format", "--check", *PY_DIRS])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean():
    # what it checks (scripts/hubdeploy, lambda, model/code) and how strictly is in pyproject.toml [tool.mypy]
    proc = run([str(VENV_BIN / "mypy")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_terraform_fmt_is_clean():
    proc = run(["terraform", "fmt", "-check", "-recursive", "terraform"])
    assert proc.returncode == 0, f"unformatted: {proc.stdout}{proc.stderr}"


def makefile_lint_commands() -> list[str]:
    """The commands under the `lint:` target, with $(VENV) expanded."""
    text = (REPO / "Makefile").read_text()
    body = re.search(r"^lint:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert body, "Makefile has no lint target"
    lines = [line.strip().lstrip("@") for line in body.group(1).splitlines()]
    return [line.replace("$(VENV)", ".venv").replace(" $(PY_DIRS)", "") for line in lines]


def test_pre_commit_runs_the_same_commands_as_make_lint():
    import yaml

    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"]), "only local hooks work offline"
    entries = sorted(hook["entry"] for hook in hooks)
    assert entries == sorted(makefile_lint_commands())
