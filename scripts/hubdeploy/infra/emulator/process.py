"""Start and stop the emulator as a child process (tests, the local stack)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from hubdeploy.errors import LocalStackError
from hubdeploy.settings import Settings

SERVER_MODULE = "hubdeploy.infra.emulator.server"  # also how a pid is recognised as our emulator
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def emulated_settings(settings: Settings, endpoint_url: str, region: str) -> Settings:
    """`settings` pointed at the emulator: its URL, the fake credentials, no profile, for this process's
    clients and every child's environment. The process environment itself is left as it was."""
    local = settings.with_environ(**aws_environ(endpoint_url, region), AWS_PROFILE=None, AWS_DEFAULT_PROFILE=None)
    return dataclasses.replace(local, aws_endpoint_url=endpoint_url, aws_region=region)


def aws_environ(endpoint_url: str, region: str) -> dict[str, str]:
    """Environment variables that point boto3 (and the AWS CLI) at the emulator at `endpoint_url`."""
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


class Emulator:
    """A moto_server child process on 127.0.0.1. Use as a context manager or call stop()."""

    def __init__(
        self,
        *,
        port: int = 0,
        log_path: Path | None = None,
        startup_timeout: float = 60.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`environ`: the child's environment (None: this process's, as subprocess inherits it)."""
        self.port = port
        self.environ = environ
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint_url: str = ""

    def start(self) -> Emulator:
        folder = Path(tempfile.mkdtemp(prefix="hubdeploy-emu-"))
        try:
            self.endpoint_url = self._start_and_wait(folder / "url")
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # it only carried the ready file
        return self

    def _start_and_wait(self, ready: Path) -> str:
        """Start moto_server and return its URL once it has written it to `ready`."""
        log_fh = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hubdeploy.infra.emulator.server",
                "--port",
                str(self.port),
                "--ready-file",
                str(ready),
            ],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=dict(self.environ) if self.environ is not None else None,
            start_new_session=True,  # Ctrl-C in the parent's terminal is ours to handle, not the child's
        )
        deadline = time.monotonic() + self.startup_timeout
        while not ready.exists():
            if self.process.poll() is not None:
                raise LocalStackError(
                    f"the AWS emulator (moto_server) exited with code {self.process.returncode} while starting",
                    hint=f"see {self.log_path}" if self.log_path else "re-run with --debug",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LocalStackError("the AWS emulator did not start in time", hint="check the machine load and retry")
            time.sleep(0.05)
        return ready.read_text().strip()

    def reset(self) -> None:
        """Drop every emulated resource (moto's reset API)."""
        req = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(req, timeout=30).close()  # noqa: S310 - loopback only

    def aws_env(self, region: str = "us-east-1") -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) at this emulator."""
        return aws_environ(self.endpoint_url, region)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def answers(url: str) -> bool:
    """True when an emulator at `url` answers HTTP (moto's management API)."""
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=5):  # noqa: S310 - loopback
            return True
    except OSError:
        return False
