"""Running terraform: the binary, a generated CLI config that uses an offline provider mirror when the
machine has one (machines with Internet keep using the registry), and subprocess calls.

Interrupts: terraform runs in a session of its own, and SIGINT/SIGTERM that hubdeploy receives while it
runs are forwarded to it as SIGINT (`run_terraform`). SIGINT is terraform's graceful stop: it asks the
providers to stop (the AWS provider cancels its calls in flight), persists the state, releases the state
lock, and exits. A second signal is forwarded again: terraform takes it as "Two interrupts received.
Exiting immediately" (it cancels the operation and gives it 5 s to return and unlock; results still in
flight may be missing from the state). That is the better end of GitHub's cancel sequence: SIGINT to the
step's process, SIGTERM 7.5 s later, the whole process tree killed 2.5 s after that
(https://docs.github.com/en/actions/reference/workflow-cancellation-reference), a kill that would leave
the lock behind. hubdeploy waits for terraform to exit (at most STOP_TIMEOUT_S, then kills it) and
raises TerraformInterrupted.

Why a session of its own: a Ctrl-C on a terminal goes to the whole foreground process group, so terraform
would get it twice (from the terminal and forwarded), and two interrupts mean "exit now". GitHub sends its
signals to the step's entry process only (a `run:` step's bash, which does not pass them on: run
hubdeploy with `exec` to receive them), so there forwarding is the only way they reach terraform.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from hubdeploy.errors import TerraformError, TerraformInterrupted
from hubdeploy.settings import TF_MIRROR_VAR

log = logging.getLogger(__name__)

# How long hubdeploy waits for an interrupted terraform to stop before it kills it (a graceful stop waits
# for the calls in flight: a SageMaker endpoint update can take minutes).
STOP_TIMEOUT_S = 300.0
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
# Commands that take the state lock unless given -lock=false (terraform's -lock flag).
LOCKING_COMMANDS = frozenset({"plan", "apply", "destroy", "refresh", "import", "taint", "untaint", "state"})
ACQUIRE_FAILED = "Error acquiring the state lock"
RELEASE_FAILED = "Error releasing the state lock"
# A field of terraform's "Lock Info:" block (statemgr.LockInfo.String()), e.g. "  ID:        9d0c...".
# Without -json every diagnostic line starts with a box-drawing "│ ".
_LOCK_FIELD = re.compile(r"^[\s│]*(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*?)\s*$", re.MULTILINE)
# The release failure names the lock in the command it suggests.
_FORCE_UNLOCK = re.compile(r"terraform force-unlock (?:-force )?([0-9A-Za-z-]+)")
# Where machine images keep an offline filesystem mirror of providers (registry.terraform.io/...).
MIRROR_CANDIDATES: tuple[str, ...] = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "~/.terraform.d/plugins")
# The shared provider cache (terraform's own variable: it wins over the CLI config's plugin_cache_dir).
PLUGIN_CACHE_VAR = "TF_PLUGIN_CACHE_DIR"
# Go's garbage collector target for terraform and the provider (a GOGC the caller set wins). Each terraform
# command decodes the AWS provider's whole schema (~1,500 resources), mostly garbage a moment later; with
# GOGC=400 instead of Go's 100, `terraform show -json` of a dev plan took 3.0 s of CPU instead of 3.7 s
# (user+sys, terraform and provider, measured side by side on this project's 2-core machine) for a peak
# RSS of 630 MB instead of 580 MB. On a 2-core runner every plan job is CPU-bound on exactly this.
GO_GC_PERCENT = "400"


def terraform_binary(env: Mapping[str, str]) -> str:
    """Path of `terraform` (TERRAFORM_BIN, else on the PATH of `env`), or a TerraformError saying how to install it."""
    path = env.get("TERRAFORM_BIN") or shutil.which("terraform", path=env.get("PATH"))
    if not path:
        raise TerraformError("terraform is not installed", hint="install Terraform >= 1.10 and put it on PATH")
    return path


def find_provider_mirror(env: Mapping[str, str]) -> Path | None:
    """The first mirror folder holding hashicorp/aws, or HUBDEPLOY_TF_MIRROR (of `env`) when set."""
    explicit = env.get(TF_MIRROR_VAR)
    candidates = [explicit] if explicit else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        root = Path(candidate).expanduser()
        if (root / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return root
    return None


def write_cli_config(cache_dir: Path, env: Mapping[str, str]) -> Path:
    """Write `<cache_dir>/terraformrc`: the offline mirror for hashicorp/* if one exists, else the registry."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    mirror = find_provider_mirror(env)
    lines = ["plugin_cache_may_break_dependency_lock_file = true"]
    if mirror:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            '    include = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "  direct {",
            '    exclude = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "}",
        ]
    path = cache_dir / "terraformrc"
    path.write_text("\n".join(lines) + "\n")
    return path


def terraform_env(repo_root: Path, base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Process environment for terraform: `base` (Settings.environ), our CLI config, a shared plugin cache (so
    each root does not copy the ~700 MB provider again; one the caller set is kept), GOGC, no prompts, plus
    `extra`."""
    env = dict(base)
    cache_dir = repo_root / ".cache" / "terraform"
    env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(cache_dir, env))
    if not env.get(PLUGIN_CACHE_VAR):
        env[PLUGIN_CACHE_VAR] = str(cache_dir / "plugin-cache")
    env.setdefault("GOGC", GO_GC_PERCENT)
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env.update(extra or {})
    return env


def plugin_cache_lock_path(env: Mapping[str, str]) -> Path | None:
    """The lock file beside the plugin cache of `env` (None: no cache, nothing to serialise)."""
    cache = env.get(PLUGIN_CACHE_VAR)
    if not cache:
        return None
    # resolved: two checkouts whose cache path is a link to one folder (a CI cache restored as a link) must
    # take the same lock, or their inits race on the one real folder
    folder = Path(cache).expanduser().resolve()
    return folder.with_name(folder.name + ".lock")


@contextlib.contextmanager
def plugin_cache_held(args: Sequence[str], env: Mapping[str, str]) -> Iterator[None]:
    """Hold an exclusive lock on the plugin cache while `terraform init` may write it.

    Terraform's plugin cache is not safe for concurrent inits: "The plugin cache directory is not guaranteed
    to be concurrency safe. The provider installer's behavior in environments with multiple terraform init
    calls is undefined." (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache;
    the race: https://github.com/hashicorp/terraform/issues/31964, "mkdir ...: file exists" when two inits
    fill an empty cache). Parallel test workers, `hubdeploy plan` for several envs and a user's shells all
    share ours, so inits take turns; every other command only reads the cache.
    """
    lock_path = plugin_cache_lock_path(env) if args and args[0] == "init" else None
    if lock_path is None:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    Path(env[PLUGIN_CACHE_VAR]).expanduser().mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if we die
        yield


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state lock: the fields of terraform's lock info (also the JSON body of the S3 .tflock)."""

    id: str
    who: str = "unknown"
    created: str = "unknown"
    operation: str = "unknown"
    path: str = ""

    def describe(self) -> str:
        """`held by runner@host since 2025-01-02 03:04:05 UTC (OperationTypeApply, lock ID 9d0c...)`."""
        return f"held by {self.who} since {self.created} ({self.operation}, lock ID {self.id})"


def terraform_text(output: str) -> str:
    """`output` as a person reads it: the messages and diagnostic details of `-json` lines decoded (their
    newlines kept), every other line as it is."""
    lines = []
    for line in output.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            lines.append(line)
            continue
        if not isinstance(message, dict):
            lines.append(line)
            continue
        diagnostic = message.get("diagnostic")
        if isinstance(diagnostic, dict):
            lines += [str(diagnostic.get("summary", "")), str(diagnostic.get("detail", ""))]
        else:
            lines.append(str(message.get("@message", "")))
    return "\n".join(lines)


def lock_info(output: str) -> LockInfo | None:
    """The first "Lock Info:" block in terraform's output (stdout, stderr or -json lines), or None."""
    text = terraform_text(output)
    start = text.find("Lock Info:")
    if start < 0:
        return None
    fields: dict[str, str] = {}
    for name, value in _LOCK_FIELD.findall(text[start:]):
        fields.setdefault(name, value)
    if not fields.get("ID"):
        return None
    return LockInfo(
        id=fields["ID"],
        who=fields.get("Who") or "unknown",
        created=fields.get("Created") or "unknown",
        operation=fields.get("Operation") or "unknown",
        path=fields.get("Path", ""),
    )


def unreleased_lock(output: str) -> LockInfo | None:
    """The lock terraform reports it could not release (its "Error releasing the state lock"), or None."""
    text = terraform_text(output)
    if RELEASE_FAILED not in text:
        return None
    text = text[text.index(RELEASE_FAILED) :]
    if found := lock_info(text):
        return found
    named = _FORCE_UNLOCK.search(text)
    return LockInfo(id=named.group(1)) if named else None


def takes_lock(args: Sequence[str]) -> bool:
    """Whether `terraform <args>` takes the state lock."""
    return bool(args) and args[0] in LOCKING_COMMANDS and "-lock=false" not in args


def failure(args: Sequence[str], cwd: Path, proc: subprocess.CompletedProcess[str]) -> TerraformError:
    """The TerraformError of a failed `terraform <args>`: its exit code and the tail of its output."""
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
    return TerraformError(
        f"terraform {args[0]} failed in {cwd} (exit {proc.returncode}): " + " | ".join(tail),
        hint="read the terraform error above; re-run with --debug for the full output",
    )


@dataclass
class _Forwarder:
    """Signals received while terraform runs, each forwarded to it as SIGINT."""

    child: subprocess.Popen[str] | None = None
    received: list[int] = field(default_factory=list)
    first_at: float | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        # no logging here: a handler runs between two bytecodes of the main thread, maybe inside a log call
        self.received.append(signum)
        self.first_at = self.first_at or time.monotonic()
        self.forward()

    def forward(self) -> None:
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signal.SIGINT)


@contextlib.contextmanager
def _forwarding(forwarder: _Forwarder) -> Iterator[bool]:
    """Route SIGINT/SIGTERM to `forwarder` inside the block; the previous handlers after. Yields whether it
    could (signal handlers can only be set in the main thread: elsewhere terraform just runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {signum: signal.signal(signum, forwarder) for signum in FORWARDED_SIGNALS}
    try:
        yield True
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wait(child: subprocess.Popen[str], forwarder: _Forwarder) -> tuple[str, str, bool]:
    """Wait for `child` (reading its pipes); once interrupted, at most STOP_TIMEOUT_S, then kill it.
    Returns (stdout, stderr, killed)."""
    told = 0
    while True:
        try:
            out, err = child.communicate(timeout=0.5)
            return out or "", err or "", False
        except subprocess.TimeoutExpired:
            for signum in forwarder.received[told:]:
                log.warning("received %s: told terraform to stop (SIGINT); waiting for it", signal.Signals(signum).name)
            told = len(forwarder.received)
            if forwarder.first_at is not None and time.monotonic() - forwarder.first_at > STOP_TIMEOUT_S:
                log.error("terraform did not stop %.0f s after the interrupt: killing it", STOP_TIMEOUT_S)
                child.kill()
                out, err = child.communicate()
                return out or "", err or "", True


def _interrupted(args: Sequence[str], forwarder: _Forwarder, output: str, *, killed: bool) -> TerraformInterrupted:
    """The one-line error of an interrupted `terraform <args>`."""
    signum = forwarder.received[0]
    name = signal.Signals(signum).name
    command = f"terraform {args[0]}"
    lock = unreleased_lock(output)
    if killed:
        message = f"interrupted ({name}): {command} did not stop within {STOP_TIMEOUT_S:.0f} s and was killed"
        hint = "the state lock may be left behind: the next locked plan names it and the command that clears it"
    elif lock is not None:
        message = f"interrupted ({name}): {command} stopped but could not release the state lock ({lock.describe()})"
        hint = f"if no other run is in progress, clear it with: hubdeploy unlock --env ENV --lock-id {lock.id}"
    elif takes_lock(args):
        message = f"interrupted ({name}): {command} stopped and released the state lock"
        hint = "re-run it when you are ready; what was applied before the interrupt is in the state"
    else:
        message = f"interrupted ({name}): {command} stopped"
        hint = ""
    return TerraformInterrupted(message, hint=hint, signal_number=signum, lock_id=lock.id if lock else None)


def run_terraform(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    capture: bool = True,
    check: bool = True,
    ok_codes: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run `terraform <args>` in `cwd`, forwarding SIGINT/SIGTERM to it (module docstring).

    Args:
        args: terraform's arguments.
        cwd: the root module to run in.
        env: its whole process environment (`terraform_env`).
        capture: capture stdout/stderr (else they go to ours).
        check: raise TerraformError when the exit code is not in `ok_codes`.
        ok_codes: exit codes that are not failures.

    Raises:
        TerraformInterrupted: a signal arrived while terraform ran; terraform has exited (or was killed).
        TerraformError: terraform failed (with `check`) or is not installed.
    """
    cmd = [terraform_binary(env), *args]
    log.debug("running %s in %s", " ".join(cmd), cwd)
    pipe = subprocess.PIPE if capture else None
    forwarder = _Forwarder()
    started = time.monotonic()
    with plugin_cache_held(args, env), _forwarding(forwarder):
        # handlers first, then the child: a signal in between is recorded and forwarded once it exists
        forwarder.child = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), text=True, stdout=pipe, stderr=pipe, start_new_session=True
        )
        try:
            if forwarder.received:
                forwarder.forward()
            out, err, killed = _wait(forwarder.child, forwarder)
        except BaseException:
            # never leave terraform running behind our back (it would keep the lock)
            if forwarder.child.poll() is None:
                forwarder.child.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    forwarder.child.wait(timeout=30)
            raise
    proc = subprocess.CompletedProcess(cmd, forwarder.child.returncode, out, err)
    log.debug("terraform %s: exit %s after %.1f s", args[0], proc.returncode, time.monotonic() - started)
    if forwarder.received:
        log.debug("interrupted terraform's output:\n%s\n%s", out, err)
        raise _interrupted(args, forwarder, out + "\n" + err, killed=killed)
    if check and proc.returncode not in ok_codes:
        raise failure(args, cwd, proc)
    return proc


def error_diagnostics(json_lines: str) -> list[str]:
    """`summary: detail` of every error diagnostic in `terraform ... -json` output, one line each."""
    errors = []
    for line in json_lines.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        diagnostic = message.get("diagnostic") if isinstance(message, dict) else None
        if message.get("type") == "diagnostic" and diagnostic and diagnostic.get("severity") == "error":
            detail = " ".join(str(diagnostic.get("detail", "")).split())
            address = f" ({diagnostic['address']})" if diagnostic.get("address") else ""
            errors.append(f"{diagnostic.get('summary', 'error')}{address}: {detail}".rstrip(": "))
    return errors
