"""`require_tool`: a missing tool is a skip with its install command locally, and a failure under CI=true."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.tools import require_tool

pytestmark = pytest.mark.unit


def test_a_present_path_or_program_is_returned(tmp_path: Path) -> None:
    folder = tmp_path / "dlc-site" / "transformers"
    folder.mkdir(parents=True)
    assert require_tool(folder, install="pip install ...") == folder
    assert require_tool(Path(sys.executable).name, install="-").name == Path(sys.executable).name


def test_missing_locally_is_a_skip_that_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install it with: make venv"):
        require_tool(tmp_path / "checkov", install="make venv")


@pytest.mark.parametrize("value", ["true", "1"])
def test_missing_under_ci_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing tool fails the run"):
        require_tool(tmp_path / "checkov", install="make venv")
    with pytest.raises(pytest.fail.Exception, match="no-such-program-here is missing"):
        require_tool("no-such-program-here", install="apt-get install it")
