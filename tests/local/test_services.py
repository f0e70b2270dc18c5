"""Which servers a second `hubdeploy local up` may keep: the running daemon, only when it was started for the
same deployment (emulator, endpoint, API, lambda.zip, auth) and listens where it was asked to."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubdeploy.local import services
from hubdeploy.local.layout import Paths

pytestmark = pytest.mark.unit

# A stand-in daemon: listens on two loopback ports and carries the daemon's module name in its command line
# (how `process_alive` recognises ours), without starting the real servers.
FAKE_DAEMON = """
import socket, sys, time
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
time.sleep(120)
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Paths, services.DaemonConfig]]:
    paths = Paths.of(tmp_path)
    paths.root.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_DAEMON, services.DAEMON_MODULE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        runtime_port, api_port = (int(p) for p in proc.stdout.readline().split())
        outputs = {"endpoint_name": "hubdeploy-dev", "api_url": "https://x.execute-api/v1", "auth": {"mode": "none"}}
        config = services.daemon_config(
            paths,
            aws_endpoint_url="http://127.0.0.1:5000",
            region="us-east-1",
            outputs=outputs,
            lambda_object=("artifacts", "lambda/abc/lambda.zip"),
            ports=(0, 0),
        )
        dataclasses.replace(config, runtime_port=runtime_port, api_port=api_port).write(paths.daemon_config)
        urls = {"runtime_url": f"http://127.0.0.1:{runtime_port}", "api_url": f"http://127.0.0.1:{api_port}"}
        paths.daemon.write_text(json.dumps({"pid": proc.pid, **urls}))
        yield paths, config
    finally:
        proc.kill()
        proc.wait()


def test_the_daemon_of_the_same_deployment_is_kept(daemon):
    paths, config = daemon
    kept = services.running_daemon(paths, config)
    assert kept is not None and kept["pid"] == json.loads(paths.daemon.read_text())["pid"]
    # asking for the port it already listens on keeps it too
    port = int(kept["api_url"].rsplit(":", 1)[1])
    assert services.running_daemon(paths, dataclasses.replace(config, api_port=port)) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"lambda_key": "lambda/def/lambda.zip"},  # new Lambda code: the API must load it
        {"auth_mode": "cognito"},  # another authoriser
        {"aws_endpoint_url": "http://127.0.0.1:5001"},  # another emulator
        {"api_port": 1},  # asked to listen elsewhere
    ],
)
def test_a_daemon_started_for_something_else_is_not_kept(daemon, change):
    paths, config = daemon
    assert services.running_daemon(paths, dataclasses.replace(config, **change)) is None


def test_a_daemon_that_is_gone_or_deaf_is_not_kept(daemon):
    paths, config = daemon
    info = json.loads(paths.daemon.read_text())
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        deaf = f"http://127.0.0.1:{free.getsockname()[1]}"
    paths.daemon.write_text(json.dumps({**info, "api_url": deaf}))
    assert services.running_daemon(paths, config) is None
    paths.daemon.write_text(json.dumps({**info, "pid": 2**22 + 7}))  # no such process
    assert services.running_daemon(paths, config) is None
