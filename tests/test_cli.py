"""The entry point's error contract: a known error (HubdeployError) or an OSError (disk full, permission denied)
raised inside any command is one line `hubdeploy <command>: ...` on stderr and exit code 1, never a traceback;
`--debug` adds the traceback; an unknown exception is not swallowed."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubdeploy.cli import main
from hubdeploy.commands import pinned as pinned_command
from hubdeploy.envs import pin_path
from hubdeploy.errors import ArtifactError

pytestmark = pytest.mark.unit

OS_HINT = "-> check that path, its permissions and the free disk space"


def raising(exc: BaseException):
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/some/path/model.tar.gz"),
            f"hubdeploy pinned: No space left on device: /some/path/model.tar.gz {OS_HINT}",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/some/path/model.auto.tfvars.json"),
            f"hubdeploy pinned: Permission denied: /some/path/model.auto.tfvars.json {OS_HINT}",
        ),
        # a write that fails at flush has no file name: the OS's words alone
        (OSError(errno.ENOSPC, "No space left on device"), f"hubdeploy pinned: No space left on device {OS_HINT}"),
    ],
    ids=["disk-full", "permission-denied", "no-filename"],
)
def test_an_oserror_inside_a_command_is_one_line_and_exit_1(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: OSError, line: str
) -> None:
    # given a command whose work hits an OSError
    monkeypatch.setattr(pinned_command, "is_pinned", raising(exc))
    # when it runs
    code = main(["pinned", "--env", "dev"])
    # then exit 1 and one line: the command, the OS's reason, the path, what to check
    assert code == 1
    assert stderr_lines(capsys) == [f"ERROR: {line}"]


def test_a_real_oserror_from_the_filesystem_is_one_line(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given GITHUB_OUTPUT naming a folder, so writing the step output fails in the OS (no monkeypatched raise)
    folder = tmp_path / "github_output"
    folder.mkdir()
    monkeypatch.setenv("GITHUB_OUTPUT", str(folder))
    assert main(["pinned", "--env", "dev"]) == 1
    assert stderr_lines(capsys) == [f"ERROR: hubdeploy pinned: Is a directory: {folder} {OS_HINT}"]


def test_a_hubdeploy_error_is_its_one_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = ArtifactError("s3://bucket/model.tar.gz is not there", hint="run hubdeploy publish --env dev")
    monkeypatch.setattr(pinned_command, "is_pinned", raising(error))
    assert main(["pinned", "--env", "dev"]) == 1
    assert stderr_lines(capsys) == [
        "ERROR: hubdeploy pinned: s3://bucket/model.tar.gz is not there -> run hubdeploy publish --env dev"
    ]


def test_an_invalid_pin_file_is_a_one_line_pin_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given a real HubdeployError from the code: a pin file that is not JSON
    path = pin_path(repo, "dev")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert main(["pinned", "--env", "dev"]) == 1
    (line,) = stderr_lines(capsys)
    assert line.startswith(f"ERROR: hubdeploy pinned: dev: {path} is not valid JSON")
    assert line.endswith("-> fix the file or restore it with git")


def test_in_github_actions_the_line_is_an_error_annotation(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setattr(pinned_command, "is_pinned", raising(OSError(errno.ENOSPC, "No space left on device", "/x")))
    assert main(["pinned", "--env", "dev"]) == 1
    assert stderr_lines(capsys) == [f"::error::hubdeploy pinned: No space left on device: /x {OS_HINT}"]


@pytest.mark.parametrize(
    "exc",
    [OSError(errno.ENOSPC, "No space left on device", "/some/path"), ArtifactError("broken", hint="fix it")],
    ids=["oserror", "hubdeploy-error"],
)
def test_debug_adds_the_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception
) -> None:
    monkeypatch.setattr(pinned_command, "is_pinned", raising(exc))
    assert main(["--debug", "pinned", "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert f"{type(exc).__name__}: " in err and "in fail" in err  # the frame that raised
    assert err.strip().splitlines()[-1].startswith("ERROR hubdeploy: hubdeploy pinned: ")  # the one line, last


def test_an_unknown_exception_is_not_swallowed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinned_command, "is_pinned", raising(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["pinned", "--env", "dev"])


def test_the_installed_entry_point_exits_1_with_one_line_and_no_traceback(repo: Path, tmp_path: Path) -> None:
    # given the real process (python -m hubdeploy, what the console script runs) and an OSError from the OS
    folder = tmp_path / "github_output"
    folder.mkdir()
    env = {**os.environ, "HUBDEPLOY_ROOT": str(repo), "GITHUB_OUTPUT": str(folder)}
    env.pop("GITHUB_ACTIONS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "hubdeploy", "pinned", "--env", "dev"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"ERROR: hubdeploy pinned: Is a directory: {folder} {OS_HINT}"]


def imported_commands(code: str) -> list[str]:
    """The command modules a fresh interpreter has imported after running `code`."""
    probe = code + "; print(json.dumps(sorted(m for m in sys.modules if m.startswith('hubdeploy.commands.'))))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "scripts")}
    done = subprocess.run(
        [sys.executable, "-c", f"import json, sys; from hubdeploy.cli import build_parser; {probe}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    names: list[str] = json.loads(done.stdout)
    return names


def test_a_call_naming_its_command_imports_that_commands_module_alone() -> None:
    # start-up counts in every CI step and in the build benchmark (bench/build.py times `hubdeploy build`)
    assert imported_commands("build_parser(['--debug', 'deploy-check', '--env', 'dev'])") == [
        "hubdeploy.commands.deploy_check"
    ]


def test_no_command_or_an_unknown_one_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from hubdeploy.cli import COMMANDS

    assert len(imported_commands("build_parser(['--help'])")) == len(COMMANDS)
    assert len(imported_commands("build_parser(['biuld'])")) == len(COMMANDS)
    with pytest.raises(SystemExit):
        main(["biuld"])
    err = capsys.readouterr().err
    assert "invalid choice: 'biuld'" in err
    assert all(f"'{name.replace('_', '-')}'" in err for name in COMMANDS)
