"""Process and port bookkeeping for the local stack's background processes: is a pid still ours, stop a
process group, is a port taken, one `up`/`down` at a time per checkout, small JSON-over-HTTP calls."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hubdeploy.errors import LocalStackError


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_alive(pid: int | None, marker: str) -> bool:
    """True when `pid` runs and its command line holds `marker` (a recycled pid is not ours)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # not ours
    cmd = _cmdline(pid)
    return marker in cmd if cmd else True


def stop_process(pid: int, *, marker: str, timeout: float = 10.0) -> bool:
    """SIGTERM the process group of `pid` (our children lead their own session), then SIGKILL.

    Returns True if a process was stopped.
    """
    if not process_alive(pid, marker):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, marker):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    time.sleep(0.2)
    return True


def port_open(url: str) -> bool:
    """True when something accepts TCP connections at the host:port of `url`."""
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return False
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def check_port_free(port: int, *, what: str, flag: str) -> None:
    """Raise a clear error when `port` (0 = any free one) is taken on 127.0.0.1."""
    if port and port_open(f"http://127.0.0.1:{port}"):
        raise LocalStackError(
            f"{what}: port {port} on 127.0.0.1 is already in use",
            hint=f"pick another {flag} (0 = any free one) or stop what holds it (ss -ltnp 'sport = :{port}')",
        )


def free_port_of(url: str | None) -> int:
    """The port of `url` if nothing listens on it any more, else 0 (any free port)."""
    port = urlsplit(url).port if url else None
    return port if port and not port_open(url or "") else 0


def http_json(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one loopback request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


@contextlib.contextmanager
def locked(root: Path, lock: Path) -> Iterator[None]:
    """One `up`/`down` at a time per checkout."""
    root.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalStackError(
                "another `hubdeploy local up/down` is running for this checkout",
                hint="wait for it to finish (or stop it with Ctrl-C), then retry",
            ) from None
        yield
