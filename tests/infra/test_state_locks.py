"""State locks never leak: speculative plans do not take the lock, locked runs wait for it and name a stale
one with the command that clears it, and SIGINT/SIGTERM reach terraform, which releases the lock.

The emulator tests run `hubdeploy` as a user (or a runner) does, as a subprocess against moto_server, on one
dev stack shared by the module, in order. To interrupt a run mid-way without guessing with sleeps, the
emulator holds one AWS operation (`/moto-api/hubdeploy/hold`, hubdeploy.infra.emulator.holds): the test
signals hubdeploy once that call is in flight and terraform's lock object exists.

The lock is the S3 backend's lock file: `<state key>.tflock` next to the state, created with a conditional
write (`use_lockfile = true`; https://developer.hashicorp.com/terraform/language/backend/s3#state-locking).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.cli import build_parser, main
from hubdeploy.commands import unlock as unlock_command
from hubdeploy.errors import StateLockError, TerraformInterrupted, UsageError
from hubdeploy.gitops import planfolder
from hubdeploy.infra import envroot, tfcli
from hubdeploy.infra.naming import state_key
from hubdeploy.settings import Settings
from tests.terraform.conftest import Stack, stack  # noqa: F401 - the module-scoped emulator stack fixture

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = "dev"
LOCK_KEY = state_key(ENV) + ".tflock"
STALE_ID = "5a1e0c4b-7d2f-4e8a-9b3c-0d1e2f3a4b5c"
# What terraform writes into the lock object (statemgr.LockInfo as JSON), here from a run that was killed.
STALE_LOCK = {
    "ID": STALE_ID,
    "Operation": "OperationTypeApply",
    "Info": "",
    "Who": "runner@fv-az123-456",
    "Version": "1.11.4",
    "Created": "2026-11-30T21:04:05.123456789Z",
}
HELD_CALL_TIMEOUT = 240.0  # the apply reaches the held call after init, show and ~20 creates


# -- emulator tests ----------------------------------------------------------------------------------------------------


@dataclass
class Dev:
    """The shared dev stack and what the tests learn along the way."""

    stack: Stack
    work: Path
    speculative: Path | None = None  # the plan folder of the --no-lock plan
    logs: list[str] = field(default_factory=list)

    @property
    def s3(self) -> Any:
        return self.stack.client("s3")

    def env(self, **extra: str) -> dict[str, str]:
        # this checkout's hubdeploy, no GitHub Actions outputs, the stack's AWS/HF settings (set by the fixture)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "scripts"), env.get("PYTHONPATH", "")])
        env.update(extra)
        return env

    def hubdeploy(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "hubdeploy", *args],
            env=self.env(**extra),
            text=True,
            capture_output=True,
            timeout=600,
            check=False,
        )
        self.logs.append(f"$ hubdeploy {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`hubdeploy <args>` in the background, its stderr piped (one line on failure)."""
        return subprocess.Popen(
            [sys.executable, "-m", "hubdeploy", *args],
            env=self.env(),
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def lock_object(self) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.stack.state_bucket, Key=LOCK_KEY)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def leave_stale_lock(self) -> bytes:
        """The lock a killed run leaves: terraform's lock info, written the way terraform writes it."""
        if (body := self.lock_object()) is not None:
            return body
        lock = dict(STALE_LOCK, Path=f"{self.stack.state_bucket}/{state_key(ENV)}")
        body = json.dumps(lock).encode()
        self.s3.put_object(Bucket=self.stack.state_bucket, Key=LOCK_KEY, Body=body, IfNoneMatch="*")
        return body

    def state_addresses(self) -> set[str]:
        state = json.loads(self.s3.get_object(Bucket=self.stack.state_bucket, Key=state_key(ENV))["Body"].read())
        return {
            f"{r.get('module', '') + '.' if r.get('module') else ''}{r['type']}.{r['name']}" for r in state["resources"]
        }

    def hold(self, target: str | None) -> dict[str, Any]:
        """Hold the AWS operation `target` (X-Amz-Target) in the emulator; None releases it."""
        body = json.dumps({"target": target, "seconds": 300} if target else {}).encode()
        return self._control(body)

    def held(self) -> dict[str, Any]:
        return self._control(None)

    def _control(self, body: bytes | None) -> dict[str, Any]:
        url = self.stack.emulator.endpoint_url + "/moto-api/hubdeploy/hold"
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def interrupt_when_held(self, proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
        """Once the held call is in flight and the lock object exists: send `signum` to hubdeploy (only to it,
        as GitHub's runner does), let the held call go, and return hubdeploy's exit code and stderr."""
        deadline = time.monotonic() + HELD_CALL_TIMEOUT
        while not (self.held()["waiting"] and self.lock_object()):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the run never reached the held call (exit {proc.poll()}): {proc.communicate()[1]}")
            time.sleep(0.2)
        proc.send_signal(signum)
        self.hold(None)  # AWS answers eventually: whatever terraform still waits for returns (an error)
        _out, err = proc.communicate(timeout=HELD_CALL_TIMEOUT)
        return proc.returncode, err


@pytest.fixture(scope="module")
def dev(stack: Stack, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:  # noqa: F811
    """dev pinned to the tiny model, its artifacts published; nothing applied yet."""
    stack.pin(ENV, stack.cache_model(tiny_model_dir))
    stack.publish(ENV)
    d = Dev(stack=stack, work=tmp_path_factory.mktemp("locks"))
    yield d
    d.hold(None)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines, "no error line"
    return lines[-1]


@pytest.mark.terraform
def test_a_speculative_plan_neither_waits_for_nor_takes_the_lock(dev: Dev):
    # given another run's lock on dev's state (one a killed run left behind)
    foreign = dev.leave_stale_lock()
    # when a PR plans dev speculatively
    out = dev.work / "speculative"
    proc = dev.hubdeploy("plan", "--env", ENV, "--out", str(out), "--no-lock")
    # then the plan succeeds at once, and the lock is the other run's, untouched: none taken, none removed
    assert proc.returncode == 0, dev.logs[-1]
    assert "to add" in proc.stdout
    assert dev.lock_object() == foreign
    dev.speculative = out


@pytest.mark.terraform
def test_a_stale_lock_fails_a_locked_plan_with_the_command_that_clears_it(dev: Dev):
    # given a stale lock (a killed run's) and a short lock timeout
    dev.leave_stale_lock()
    # when a deploy plans (locked)
    proc = dev.hubdeploy("plan", "--env", ENV, "--out", str(dev.work / "locked"), HUBDEPLOY_LOCK_TIMEOUT="1s")
    # then it fails with one line: who holds the lock since when, its ID, and the command that clears it
    assert proc.returncode == 1, dev.logs[-1]
    line = one_error_line(proc.stderr)
    assert line.startswith("ERROR: hubdeploy plan: the dev state is locked: held by runner@fv-az123-456 since ")
    assert f"lock ID {STALE_ID}" in line and "waited 1s" in line
    command = f"hubdeploy unlock --env {ENV} --lock-id {STALE_ID}"
    assert line.endswith(f"only if no run is in progress (a cancelled or killed run left it), clear it with: {command}")
    # when the user runs that command
    cleared = dev.hubdeploy(*line.rsplit("clear it with: hubdeploy ", 1)[1].split())
    # then the lock is gone (the next test's apply takes it)
    assert cleared.returncode == 0, dev.logs[-1]
    assert cleared.stdout.strip() == f"dev: state lock {STALE_ID} removed"
    assert dev.lock_object() is None


@pytest.mark.terraform
def test_sigint_during_apply_stops_terraform_which_saves_the_state_and_releases_the_lock(dev: Dev):
    # given an apply of the whole stack whose SageMaker endpoint (the last resource) is being created
    assert dev.speculative is not None and dev.lock_object() is None, "runs after the stale lock test"
    dev.hold("SageMaker.CreateEndpoint")
    apply = dev.start("apply", "--env", ENV, "--plan-dir", str(dev.speculative))
    # when hubdeploy gets SIGINT (Ctrl-C, or GitHub cancelling the run)
    code, stderr = dev.interrupt_when_held(apply, signal.SIGINT)
    # then it exits 130 with one line, the lock is gone, and what was created before is in the state
    assert code == 130, stderr
    assert one_error_line(stderr) == (
        "ERROR: hubdeploy apply: interrupted (SIGINT): terraform apply stopped and released the state lock"
        " -> re-run it when you are ready; what was applied before the interrupt is in the state"
    )
    assert dev.lock_object() is None
    addresses = dev.state_addresses()
    assert "module.endpoint.aws_sagemaker_endpoint_configuration.this" in addresses
    assert "module.endpoint.aws_sagemaker_endpoint.this" not in addresses


@pytest.mark.terraform
def test_sigterm_during_a_locked_plan_releases_the_lock_and_the_next_plan_works(dev: Dev):
    # given a locked plan (it took the lock: the interrupted apply released it) refreshing the endpoint config
    assert dev.lock_object() is None
    dev.hold("SageMaker.DescribeEndpointConfig")
    plan = dev.start("plan", "--env", ENV, "--out", str(dev.work / "interrupted"))
    # when hubdeploy gets SIGTERM (GitHub's second signal; a `kill`)
    code, stderr = dev.interrupt_when_held(plan, signal.SIGTERM)
    # then it exits 143 with one line and the lock is gone
    assert code == 143, stderr
    assert one_error_line(stderr).startswith(
        "ERROR: hubdeploy plan: interrupted (SIGTERM): terraform plan stopped and released the state lock"
    )
    assert dev.lock_object() is None
    # and the next locked plan (the deploy job's envroot.plan) works: what is left is the endpoint and what needs it
    root = envroot.open_root(Settings.from_env(), ENV)
    assert envroot.plan(root).has_changes
    assert dev.lock_object() is None


# -- unit tests: flags -------------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, args: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        return subprocess.CompletedProcess(args, 0, "", "")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """The env root's terraform calls (through statelock.run), recorded instead of run (each succeeds)."""
    record = Recorded()
    monkeypatch.setattr(tfcli, "run_terraform", record)
    monkeypatch.setattr(envroot, "observed_instance_count", lambda _root: None)
    return record


def lock_flags(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith(("-lock", "-refresh-only"))]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "flags"),
    [
        ({}, ["-lock-timeout=10m"]),
        ({"lock": False}, ["-lock=false"]),
        ({"lock_timeout": "30s"}, ["-lock-timeout=30s"]),
        ({"lock": False, "refresh_only": True}, ["-lock=false", "-refresh-only"]),
    ],
    ids=["locked-default-timeout", "speculative", "own-timeout", "drift"],
)
def test_plan_lock_flags(repo: Path, recorded: Recorded, kwargs: dict[str, Any], flags: list[str]):
    root = envroot.prepare(repo, ENV, environ={})
    envroot.plan(root, **kwargs)
    (args,) = recorded.calls
    assert args[0] == "plan" and lock_flags(args) == flags


@pytest.mark.unit
def test_apply_and_destroy_wait_the_settings_lock_timeout(repo: Path, recorded: Recorded):
    # given HUBDEPLOY_LOCK_TIMEOUT=3m
    settings = Settings.from_env({"HUBDEPLOY_ROOT": str(repo), "HUBDEPLOY_LOCK_TIMEOUT": "3m"})
    root = envroot.open_root(settings, ENV, initialise=False)
    # when it applies a plan and destroys
    envroot.apply(root, repo / "tfplan")
    envroot.destroy(root)
    # then every locked call waits 3m for the lock
    assert [(args[0], lock_flags(args)) for args in recorded.calls] == [
        ("apply", ["-lock-timeout=3m"]),
        ("plan", ["-lock-timeout=3m"]),
        ("apply", ["-lock-timeout=3m"]),
    ]


@pytest.mark.unit
def test_a_locked_apply_names_the_holder_and_the_unlock_command(repo: Path, monkeypatch: pytest.MonkeyPatch):
    failed = subprocess.CompletedProcess(["apply"], 1, "", LOCKED_APPLY_TEXT)
    monkeypatch.setattr(tfcli, "run_terraform", lambda args, **_kwargs: failed)
    root = dataclasses.replace(envroot.prepare(repo, ENV, environ={}), lock_timeout="2m")
    with pytest.raises(StateLockError) as caught:
        envroot.apply(root, repo / "tfplan")
    assert caught.value.lock_id == STALE_ID
    assert caught.value.one_line() == (
        "the dev state is locked: held by runner@fv-az123-456 since 2026-11-30 21:04:05.123456789 +0000 UTC "
        f"(OperationTypeApply, lock ID {STALE_ID}); waited 2m -> wait for that run to finish; only if no run is in "
        "progress (a cancelled or killed run left it), clear it with: "
        f"hubdeploy unlock --env dev --lock-id {STALE_ID}"
    )


@pytest.mark.unit
def test_a_lock_timeout_terraform_cannot_parse_is_refused_before_it_runs(repo: Path, recorded: Recorded):
    settings = Settings.from_env({"HUBDEPLOY_ROOT": str(repo), "HUBDEPLOY_LOCK_TIMEOUT": "10 minutes"})
    with pytest.raises(UsageError, match=r"HUBDEPLOY_LOCK_TIMEOUT='10 minutes' is not a duration") as caught:
        envroot.plan(envroot.open_root(settings, ENV, initialise=False))
    assert recorded.calls == []
    assert caught.value.hint == "set it to a Terraform duration such as 30s, 10m or 1h (default 10m)"


@pytest.mark.unit
def test_the_plan_folder_and_the_cli_pass_the_lock_choice_through(repo: Path, monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, Any] = {}

    def plan(_root: envroot.EnvRoot, **kwargs: Any) -> envroot.Plan:
        seen.update(kwargs)
        raise StateLockError("stop here", lock_id="x")

    monkeypatch.setattr(envroot, "plan", plan)
    root = envroot.prepare(repo, ENV, environ={})
    with pytest.raises(StateLockError):
        planfolder.write_plan_folder(root, repo / "out", commit="c", lock=False, lock_timeout="1m", refresh_only=True)
    assert (seen["lock"], seen["lock_timeout"], seen["refresh_only"]) == (False, "1m", True)
    parser = build_parser()
    assert parser.parse_args(["plan", "--env", ENV, "--out", "o", "--no-lock"]).lock is False
    assert parser.parse_args(["plan", "--env", ENV, "--out", "o"]).lock is True


@pytest.mark.unit
def test_unlock_runs_force_unlock_in_the_initialised_env_root(
    repo: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(
        unlock_command.envroot, "open_root", lambda settings, env: envroot.prepare(repo, env, environ={})
    )
    assert main(["unlock", "--env", ENV, "--lock-id", STALE_ID]) == 0
    assert recorded.calls == [["force-unlock", "-force", STALE_ID]]
    assert capsys.readouterr().out.strip() == f"dev: state lock {STALE_ID} removed"


@pytest.mark.unit
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_and_exit_128_plus_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int, code: int
):
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise TerraformInterrupted("interrupted (X): terraform plan stopped", signal_number=signum)

    monkeypatch.setattr(unlock_command.envroot, "open_root", interrupted)
    assert main(["unlock", "--env", ENV, "--lock-id", "x"]) == code
    assert capsys.readouterr().err.strip().splitlines() == [
        "ERROR: hubdeploy unlock: interrupted (X): terraform plan stopped"
    ]


# -- unit tests: terraform's lock messages -----------------------------------------------------------------------------

LOCKED_PLAN_JSON = json.dumps(
    {
        "@level": "error",
        "type": "diagnostic",
        "diagnostic": {
            "severity": "error",
            "summary": "Error acquiring the state lock",
            "detail": (
                "Error message: operation error S3: PutObject, https response error StatusCode: 412, api error "
                "PreconditionFailed: At least one of the pre-conditions you specified did not hold\n"
                "Lock Info:\n  ID:        5a1e0c4b-7d2f-4e8a-9b3c-0d1e2f3a4b5c\n"
                "  Path:      b/envs/dev/terraform.tfstate\n  Operation: OperationTypeApply\n"
                "  Who:       runner@fv-az123-456\n  Version:   1.11.4\n"
                "  Created:   2026-11-30 21:04:05.123456789 +0000 UTC\n  Info:      \n\n\n"
                "Terraform acquires a state lock to protect the state from being written\nby multiple users."
            ),
        },
    }
)
LOCKED_APPLY_TEXT = """
╷
│ Error: Error acquiring the state lock
│
│ Error message: operation error S3: PutObject, https response error
│ StatusCode: 412, api error PreconditionFailed
│ Lock Info:
│   ID:        5a1e0c4b-7d2f-4e8a-9b3c-0d1e2f3a4b5c
│   Path:      b/envs/dev/terraform.tfstate
│   Operation: OperationTypeApply
│   Who:       runner@fv-az123-456
│   Version:   1.11.4
│   Created:   2026-11-30 21:04:05.123456789 +0000 UTC
│   Info:
╵
"""


@pytest.mark.unit
@pytest.mark.parametrize("output", [LOCKED_PLAN_JSON, LOCKED_APPLY_TEXT], ids=["plan-json", "apply-text"])
def test_the_lock_info_is_read_from_terraforms_error(output: str):
    assert tfcli.lock_info(output) == tfcli.LockInfo(
        id=STALE_ID,
        who="runner@fv-az123-456",
        created="2026-11-30 21:04:05.123456789 +0000 UTC",
        operation="OperationTypeApply",
        path="b/envs/dev/terraform.tfstate",
    )


@pytest.mark.unit
def test_a_lock_terraform_could_not_release_is_named():
    output = (
        "Error: Error releasing the state lock\n\nError message: failed to delete the lock file\n\n"
        "Terraform acquired a lock on the state for you, but encountered an error when attempting to unlock it.\n"
        f"You'll need to manually unlock the state using the lock ID below.\n  terraform force-unlock {STALE_ID}\n"
    )
    assert tfcli.unreleased_lock(output) == tfcli.LockInfo(id=STALE_ID)
    assert tfcli.unreleased_lock(LOCKED_APPLY_TEXT) is None, "a lock another run holds is not ours to release"


# -- unit tests: signals reach terraform -------------------------------------------------------------------------------

FAKE_TERRAFORM = """#!{python}
import os, signal, sys, time
from pathlib import Path

folder = Path(os.environ["FAKE_TF_DIR"])
mode = os.environ.get("FAKE_TF_MODE", "graceful")
got = []

def on_signal(signum, _frame):
    got.append(signum)
    with (folder / "signals").open("a") as fh:
        fh.write(signal.Signals(signum).name + "\\n")
    if mode == "graceful" or (mode == "twice" and len(got) == 2):
        sys.exit(1)  # terraform: stop, persist, unlock, exit 1

signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
if mode == "quick":
    print("done")
    sys.exit(0)
(folder / "ready").write_text(f"{{os.getpid()}} {{os.getsid(0)}}")
time.sleep(30)
sys.exit(3)
"""


@pytest.fixture
def fake_terraform(tmp_path: Path) -> dict[str, str]:
    """A `terraform` that records the signals it gets (FAKE_TF_MODE: graceful, twice, deaf, quick)."""
    binary = tmp_path / "terraform"
    binary.write_text(FAKE_TERRAFORM.format(python=sys.executable))
    binary.chmod(0o755)
    return {"TERRAFORM_BIN": str(binary), "FAKE_TF_DIR": str(tmp_path)}


def signal_when_ready(folder: Path, *signums: int) -> threading.Thread:
    """Send `signums` to this process (as a runner signals hubdeploy) once the fake terraform runs."""

    def send() -> None:
        deadline = time.monotonic() + 20
        while not (folder / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        for signum in signums:
            os.kill(os.getpid(), signum)
            time.sleep(0.3)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def signals_got(folder: Path) -> list[str]:
    path = folder / "signals"
    return path.read_text().split() if path.exists() else []


@pytest.mark.unit
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_is_forwarded_as_sigint_and_hubdeploy_waits_for_terraform(
    fake_terraform: dict[str, str], tmp_path: Path, signum: int, code: int
):
    before = {s: signal.getsignal(s) for s in tfcli.FORWARDED_SIGNALS}
    thread = signal_when_ready(tmp_path, signum)
    with pytest.raises(TerraformInterrupted) as caught:
        tfcli.run_terraform(["apply", "tfplan"], cwd=tmp_path, env=fake_terraform)
    thread.join()
    name = signal.Signals(signum).name
    assert caught.value.exit_code == code
    assert caught.value.message == f"interrupted ({name}): terraform apply stopped and released the state lock"
    # terraform got exactly one SIGINT (its graceful stop), in a session of its own (a terminal's Ctrl-C is not
    # delivered to it a second time), and our handlers are back
    assert signals_got(tmp_path) == ["SIGINT"]
    pid, sid = (tmp_path / "ready").read_text().split()
    assert pid == sid != str(os.getsid(0))
    assert {s: signal.getsignal(s) for s in tfcli.FORWARDED_SIGNALS} == before


@pytest.mark.unit
def test_a_second_signal_is_forwarded_again(fake_terraform: dict[str, str], tmp_path: Path):
    # terraform takes a second interrupt as "exit now" (GitHub: SIGINT, then SIGTERM 7.5 s later)
    thread = signal_when_ready(tmp_path, signal.SIGINT, signal.SIGTERM)
    with pytest.raises(TerraformInterrupted) as caught:
        tfcli.run_terraform(["plan"], cwd=tmp_path, env={**fake_terraform, "FAKE_TF_MODE": "twice"})
    thread.join()
    assert signals_got(tmp_path) == ["SIGINT", "SIGINT"]
    assert caught.value.exit_code == 130, "the first signal decides the exit code"


@pytest.mark.unit
def test_terraform_that_does_not_stop_is_killed_after_the_stop_timeout(
    fake_terraform: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tfcli, "STOP_TIMEOUT_S", 1.0)
    thread = signal_when_ready(tmp_path, signal.SIGINT)
    started = time.monotonic()
    with pytest.raises(TerraformInterrupted, match=r"did not stop within 1 s and was killed") as caught:
        tfcli.run_terraform(["apply"], cwd=tmp_path, env={**fake_terraform, "FAKE_TF_MODE": "deaf"})
    thread.join()
    assert time.monotonic() - started < 10
    assert "the next locked plan names it" in caught.value.hint


@pytest.mark.unit
def test_outside_the_main_thread_terraform_runs_without_forwarding(fake_terraform: dict[str, str], tmp_path: Path):
    result: list[str] = []
    thread = threading.Thread(
        target=lambda: result.append(
            tfcli.run_terraform(["version"], cwd=tmp_path, env={**fake_terraform, "FAKE_TF_MODE": "quick"}).stdout
        )
    )
    thread.start()
    thread.join(timeout=20)
    assert result == ["done\n"]


@pytest.mark.unit
def test_the_interrupt_names_the_env_when_the_lock_was_left(monkeypatch: pytest.MonkeyPatch, repo: Path):
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise TerraformInterrupted("interrupted (SIGINT): ...", hint="?", signal_number=2, lock_id=STALE_ID)

    monkeypatch.setattr(tfcli, "run_terraform", interrupted)
    monkeypatch.setattr(envroot, "observed_instance_count", lambda _root: None)
    with pytest.raises(TerraformInterrupted) as caught:
        envroot.plan(envroot.prepare(repo, ENV, environ={}))
    assert caught.value.hint.endswith(f"clear it with: hubdeploy unlock --env dev --lock-id {STALE_ID}")
    assert re.search(r"if no other run is in progress", caught.value.hint)
