"""The local stack's two background processes, each in its own session so `up` can return and `down` works
from any shell: the AWS emulator (moto_server, pid in `.local/emulator.json`) and the daemon with the
SageMaker runtime and API Gateway servers (`python -m hubdeploy.local.daemon`, pid in `.local/daemon.json`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubdeploy.errors import LocalStackError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.infra.emulator.process import SERVER_MODULE, Emulator, answers
from hubdeploy.local.daemon import DaemonConfig
from hubdeploy.local.layout import Paths
from hubdeploy.local.processes import check_port_free, process_alive, read_json, stop_process
from hubdeploy.settings import Settings

DAEMON_MODULE = "hubdeploy.local.daemon"  # also how a pid is recognised as our daemon
DAEMON_START_TIMEOUT = 180.0


def ensure_emulator(paths: Paths, settings: Settings, *, port: int, out: Callable[[str], None]) -> tuple[str, bool]:
    """Reuse a healthy emulator of an earlier `up`, else start one. Returns (url, started_now)."""
    state = read_json(paths.emulator) or {}
    pid, url = state.get("pid"), state.get("url")
    if pid and process_alive(pid, SERVER_MODULE):
        if url and answers(url):
            out(f"      reusing the emulator at {url} (pid {pid})")
            return url, False
        out(f"      the emulator (pid {pid}) does not answer: restarting it")
        stop_process(pid, marker=SERVER_MODULE)
    elif pid:
        out(
            f"      the emulator of the last `up` (pid {pid}) is gone (crashed or killed): its buckets, Terraform "
            "state and endpoint went with it; starting a fresh one and re-applying"
        )
    paths.logs.mkdir(parents=True, exist_ok=True)
    check_port_free(port, what="emulator", flag="--emulator-port")
    emulator = Emulator(port=port, log_path=paths.logs / "emulator.log", environ=settings.environ).start()
    assert emulator.process is not None
    atomic_write_json(
        paths.emulator, {"pid": emulator.process.pid, "url": emulator.endpoint_url, "started_at": time.time()}
    )
    out(f"      started the emulator at {emulator.endpoint_url} (pid {emulator.process.pid})")
    return emulator.endpoint_url, True


def stop_daemon(paths: Paths) -> bool:
    """Stop the daemon of an earlier `up`, if it runs; True when one was stopped."""
    state = read_json(paths.daemon) or {}
    stopped = bool(state.get("pid")) and stop_process(int(state["pid"]), marker=DAEMON_MODULE)
    paths.daemon.unlink(missing_ok=True)
    return stopped


def start_daemon(paths: Paths, config: DaemonConfig, settings: Settings) -> dict[str, Any]:
    """Spawn the daemon in its own session with `settings.environ`; wait for its ready file; raise with its
    error otherwise."""
    ready = Path(config.ready_file)
    ready.unlink(missing_ok=True)
    check_port_free(config.runtime_port, what="runtime", flag="--runtime-port")
    check_port_free(config.api_port, what="api", flag="--api-port")
    config.write(paths.daemon_config)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = paths.logs / "daemon.log"
    with log_path.open("ab") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", DAEMON_MODULE, "--config", str(paths.daemon_config)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(settings.environ),
            start_new_session=True,
        )
    atomic_write_json(paths.daemon, {"pid": proc.pid, "started_at": time.time()})
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while True:
        info = read_json(ready)
        if info:
            break
        if proc.poll() is not None:
            raise LocalStackError(
                f"the local servers (daemon) exited with code {proc.returncode} while starting",
                hint=f"see {log_path}; `hubdeploy local down` cleans up",
            )
        if time.monotonic() > deadline:
            raise LocalStackError("the local servers did not start in time", hint=f"see {log_path}")
        time.sleep(0.1)
    if "error" in info:
        proc.wait(timeout=30)
        raise LocalStackError(f"{info['error']}", hint=f"details in {log_path}; `hubdeploy local down` cleans up")
    atomic_write_json(paths.daemon, {"pid": proc.pid, "started_at": time.time(), **info})
    return info
