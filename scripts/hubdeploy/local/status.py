"""`hubdeploy local status|down`: what runs where (and a ready auth header), and stopping everything `up`
started, even after a crash."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from typing import Any

from hubdeploy.infra.emulator.process import SERVER_MODULE, answers
from hubdeploy.local.access import client_headers
from hubdeploy.local.layout import Paths
from hubdeploy.local.processes import http_json, locked, port_open, process_alive, read_json, stop_process
from hubdeploy.local.services import DAEMON_MODULE
from hubdeploy.settings import Settings


def status_of(settings: Settings, paths: Paths, *, with_token: bool = True) -> dict[str, Any]:
    """What runs, where, and a ready auth header; `running` is True only when every part answers."""
    state = read_json(paths.stack) or {}
    emulator = read_json(paths.emulator) or {}
    daemon = read_json(paths.daemon) or {}
    emulator_up = bool(emulator.get("pid")) and process_alive(emulator["pid"], SERVER_MODULE)
    emulator_up = emulator_up and answers(emulator.get("url", ""))
    daemon_up = bool(daemon.get("pid")) and process_alive(daemon["pid"], DAEMON_MODULE)
    served: dict[str, Any] = {}
    if daemon_up and state.get("runtime_url"):
        code, body = http_json("GET", state["runtime_url"] + "/local/status", timeout=10)
        if code == 200 and isinstance(body, dict):
            served = (body.get("endpoints") or {}).get(state.get("endpoint_name", ""), {})
    running = bool(state) and emulator_up and daemon_up
    auth_header = None
    problems = []
    if state and not emulator_up:
        problems.append("the emulator is not running (crashed or stopped): run `hubdeploy local up` to rebuild")
    if state and not daemon_up:
        problems.append("the local servers are not running: run `hubdeploy local up`")
    if running and with_token:
        try:
            auth_header = client_headers(settings, state).get("Authorization")
        except Exception as exc:
            problems.append(f"cannot get a token from the emulated user pool: {exc}")
    return {
        "running": running,
        "env": state.get("env"),
        "api_url": state.get("api_url") if running else None,
        "runtime_url": state.get("runtime_url") if running else None,
        "aws_endpoint_url": state.get("aws_endpoint_url") if running else None,
        "token_url": state.get("token_url") if running else None,
        "auth_mode": (state.get("auth") or {}).get("mode"),
        "auth_header": auth_header,
        "endpoint_name": state.get("endpoint_name"),
        "model_source": state.get("model_source"),
        "hub_model_id": state.get("hub_model_id"),
        "hub_revision": state.get("hub_revision"),
        "artifact_sha256": served.get("artifact_sha256") or (None if running else state.get("artifact_sha256")),
        "model_data_url": served.get("model_data_url") or state.get("model_data_url"),
        "pids": {
            "emulator": emulator.get("pid") if emulator_up else None,
            "daemon": daemon.get("pid") if daemon_up else None,
        },
        "logs": str(paths.logs),
        "problems": problems,
    }


def down(settings: Settings, *, purge: bool = False, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Stop the daemon and the emulator (even after a crash), remove pid/state files, check the ports."""
    paths = Paths.of(settings.repo_root)
    if not paths.root.exists():
        out("nothing to stop (no .local folder)")
        return {"stopped": []}
    with locked(paths.root, paths.lock):
        state = read_json(paths.stack) or {}
        daemon_state = read_json(paths.daemon) or {}
        emulator_state = read_json(paths.emulator) or {}
        stopped = []
        if daemon_state.get("pid") and stop_process(int(daemon_state["pid"]), marker=DAEMON_MODULE):
            stopped.append(f"local servers (pid {daemon_state['pid']})")
        if emulator_state.get("pid") and stop_process(int(emulator_state["pid"]), marker=SERVER_MODULE):
            stopped.append(f"emulator (pid {emulator_state['pid']})")
        urls = [u for u in (state.get("api_url"), state.get("runtime_url"), emulator_state.get("url")) if u]
        deadline = time.monotonic() + 10
        while any(port_open(u) for u in urls) and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = [u for u in urls if port_open(u)]
        for path in (*paths.pid_files(), paths.stack, paths.daemon_config, paths.daemon_ready):
            path.unlink(missing_ok=True)
        # Terraform's work copy belongs to the emulator's (now gone) state.
        shutil.rmtree(paths.tf_work, ignore_errors=True)
        if purge:
            shutil.rmtree(paths.root, ignore_errors=True)
    out("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    if busy:
        out("WARNING: still answering (not ours?): " + ", ".join(busy))
    if purge:
        out(f"removed {paths.root} (caches included)")
    return {"stopped": stopped, "busy": busy}


def wait_foreground(settings: Settings, *, out: Callable[[str], None] = print) -> None:
    """Block until Ctrl-C / SIGTERM, then stop everything (`up --foreground`)."""
    out("Serving in the foreground: Ctrl-C stops everything.")
    stop = False

    def _handler(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _handler)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    down(settings, out=out)
