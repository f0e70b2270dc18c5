"""The local stack's two background processes, each in its own session so `up` can return and `down` works
from any shell: the AWS emulator (moto_server, pid in `.local/emulator.json`) and the daemon with the
SageMaker runtime and API Gateway servers (`python -m hubdeploy.local.daemon`, pid in `.local/daemon.json`)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hubdeploy.errors import LocalStackError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.infra.emulator.process import SERVER_MODULE, Emulator, answers
from hubdeploy.local.daemon import DaemonConfig
from hubdeploy.local.layout import Paths
from hubdeploy.local.processes import (
    check_port_free,
    free_port_of,
    port_open,
    process_alive,
    read_json,
    stop_process,
)
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


def daemon_config(
    paths: Paths,
    *,
    aws_endpoint_url: str,
    region: str,
    outputs: dict[str, Any],
    lambda_object: tuple[str, str],
    ports: tuple[int, int],
) -> DaemonConfig:
    """What the daemon serves for the env root's `outputs`: (bucket, key) of lambda.zip, (runtime, API) ports."""
    auth = dict(outputs.get("auth") or {})
    return DaemonConfig(
        state_dir=str(paths.root),
        ready_file=str(paths.daemon_ready),
        aws_endpoint_url=aws_endpoint_url,
        region=region,
        endpoint_name=str(outputs["endpoint_name"]),
        api_url=str(outputs["api_url"]),
        lambda_bucket=lambda_object[0],
        lambda_key=lambda_object[1],
        auth_mode=str(auth.get("mode", "none")),
        client_ids=tuple([auth["client_id"]] if auth.get("client_id") else []),
        runtime_port=ports[0],
        api_port=ports[1],
    )


def running_daemon(paths: Paths, wanted: DaemonConfig) -> dict[str, Any] | None:
    """The daemon of an earlier `up`, if it runs, answers, and was started for `wanted` (a port of 0 in `wanted`:
    whichever it listens on); else None. Its servers re-read the endpoint on every call, so they can stay."""
    info = read_json(paths.daemon) or {}
    if not (info.get("pid") and info.get("runtime_url") and info.get("api_url")):
        return None
    if not process_alive(int(info["pid"]), DAEMON_MODULE) or not all(
        port_open(info[url]) for url in ("runtime_url", "api_url")
    ):
        return None
    try:
        running = DaemonConfig.read(paths.daemon_config)
    except (OSError, ValueError, TypeError):
        return None
    listening = {"runtime_port": urlsplit(info["runtime_url"]).port, "api_port": urlsplit(info["api_url"]).port}
    for name, port in listening.items():
        if getattr(wanted, name) not in (0, port):
            return None  # asked for another port: start anew there
    same = dataclasses.replace(running, runtime_port=0, api_port=0) == dataclasses.replace(
        wanted, runtime_port=0, api_port=0
    )
    return info if same else None


def restart_daemon(
    paths: Paths, config: DaemonConfig, settings: Settings, *, out: Callable[[str], None]
) -> dict[str, Any]:
    """Stop the daemon of an earlier `up`, start one for `config`. A port of 0 in `config` reuses the previous
    daemon's port when it is free again, so a curl command from before keeps working."""
    previous = read_json(paths.daemon) or {}
    if stop_daemon(paths):
        out("      stopped the servers of the previous `up`")
    config = dataclasses.replace(
        config,
        runtime_port=config.runtime_port or free_port_of(previous.get("runtime_url")),
        api_port=config.api_port or free_port_of(previous.get("api_url")),
    )
    return start_daemon(paths, config, settings)


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
