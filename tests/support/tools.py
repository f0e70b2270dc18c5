"""Tools the tests need but pip's dependency list cannot provide (checkov's own venv, the container's
transformers overlay): a missing one fails the run in CI and is a skip, with its install command, locally."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

VENV = Path(sys.prefix)
# checkov pins an old boto3, so the Makefile gives it a venv of its own (linked into .venv/bin).
CHECKOV = VENV / "checkov" / "bin" / "checkov"
CHECKOV_INSTALL = "python3 -m venv .venv/checkov && .venv/checkov/bin/pip install -r requirements/checkov.txt"
TRUE_WORDS = frozenset({"1", "true", "yes"})


def in_ci() -> bool:
    """True under CI=true (set by GitHub Actions and by .ci/run)."""
    return os.environ.get("CI", "").strip().lower() in TRUE_WORDS


def require_tool(path_or_name: str | Path, *, install: str) -> Path:
    """The tool's path: a path that must exist (file or folder), or a program name looked up in the test venv's
    bin folder, then PATH.

    Args:
        path_or_name: e.g. `CHECKOV`, `.venv/dlc-site/transformers`, or `"terraform"`.
        install: the command that installs it, shown to the user.

    Returns:
        The path found.

    Fails the test when it is missing under CI=true (CI installs every tool, so a missing one is a broken
    bootstrap, not a reason to run less); skips it otherwise.
    """
    found = _find(path_or_name)
    if found is not None:
        return found
    message = f"{path_or_name} is missing; install it with: {install}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing tool fails the run instead of skipping its tests)", pytrace=False)
    pytest.skip(message)


def _find(path_or_name: str | Path) -> Path | None:
    if isinstance(path_or_name, Path) or os.sep in path_or_name:
        path = Path(path_or_name)
        return path if path.exists() else None
    search = os.pathsep.join(p for p in (str(VENV / "bin"), os.environ.get("PATH", "")) if p)
    program = shutil.which(path_or_name, path=search)
    return Path(program) if program else None
