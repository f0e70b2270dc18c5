"""`hubdeploy loadtest` against a fake deployed API on 127.0.0.1, always in a subprocess: Locust patches the
standard library with gevent at import, which must never happen inside pytest (nor in any other command)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gitops.fakeapi import CLIENT_ID, CLIENT_SECRET, TOKEN, FakeApi, FakeApiServer

pytestmark = pytest.mark.loadtest
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_api():
    with FakeApiServer(FakeApi()) as api:
        yield api


def outputs_file(tmp_path: Path, api: FakeApi, *, max_texts: int | None = None) -> Path:
    """Saved `terraform output -json` of an env whose API is the fake, with Cognito client-credentials auth."""
    auth = {"mode": "cognito", "client_id": CLIENT_ID, "token_url": f"{api.url}/oauth2/token"}
    values = {
        "api_url": f"{api.url}/dev",
        "endpoint_name": "ep",
        "endpoint_config_name": "cfg",
        "auth": auth,
        "auth_client_secret": CLIENT_SECRET,
    }
    if max_texts:
        values["request_limits"] = {"max_texts": max_texts, "max_text_chars": 3072, "max_body_bytes": 65536}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: {"value": v, "type": "string", "sensitive": False} for k, v in values.items()}))
    return path


def loadtest(tmp_path: Path, *args: str, code: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HUBDEPLOY_", "GITHUB_"))}
    env.update({"HUBDEPLOY_ROOT": str(tmp_path), "PYTHONPATH": str(REPO / "scripts")})
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "hubdeploy"]
    return subprocess.run(
        [*command, "loadtest", "--env", "dev", *args],
        cwd=tmp_path,
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def test_a_bounded_run_reports_requests_percentiles_statuses_and_throttles(tmp_path, fake_api):
    # given an API that throttles every 5th request
    fake_api.throttle_every = 5
    outputs = outputs_file(tmp_path, fake_api)
    # when 5 users run for up to 60 s but at most 50 requests
    started = time.monotonic()
    result = loadtest(
        tmp_path, "--users", "5", "--duration", "60", "--max-requests", "50", "--outputs-json", str(outputs)
    )
    # then it stops after exactly 50 requests, long before the duration, and passes: throttles are not errors
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 30
    assert len(fake_api.calls) == 50 and all(call["authorized"] for call in fake_api.calls)
    assert len(fake_api.token_requests) == 1  # one client-credentials token for the run, as smoke gets it
    report = json.loads((tmp_path / ".loadtest" / "dev.json").read_text())
    assert report["requests"] == 50 and report["stopped_by"] == "max_requests"
    assert report["statuses"] == {"200": 40, "429": 10} and (report["throttles"], report["errors"]) == (10, 0)
    assert report["auth_mode"] == "cognito" and report["url"] == f"{fake_api.url}/dev/sentiment"
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p95"] <= report["latency_ms"]["p99"]
    assert report["requests_per_s"] > 0
    assert "throttled   10 (HTTP 429, not counted as errors)" in result.stdout
    assert "dev: load test passed" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_the_duration_bounds_a_run(tmp_path, fake_api):
    fake_api.delay = 0.02
    started = time.monotonic()
    result = loadtest(
        tmp_path,
        "--users",
        "3",
        "--duration",
        "2",
        "--texts-per-request",
        "3",
        "--outputs-json",
        str(outputs_file(tmp_path, fake_api)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / ".loadtest" / "dev.json").read_text())
    assert report["stopped_by"] == "duration" and 2.0 <= report["elapsed_s"] < 5.0
    assert report["requests"] == len(fake_api.calls) > 3  # every request sent was answered and counted
    assert all(len(json.loads(call["body"])["texts"]) == 3 for call in fake_api.calls)
    assert time.monotonic() - started < 30


def test_failed_requests_fail_the_run_naming_the_statuses(tmp_path, fake_api):
    fake_api.broken = True  # every call answers 502
    out = tmp_path / "report.json"
    result = loadtest(
        tmp_path, "--users", "2", "--duration", "30", "--max-requests", "8",
        "--outputs-json", str(outputs_file(tmp_path, fake_api)), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 1
    assert "dev: 8 of 8 requests failed (100.00%, allowed 0.00%): 502 x8" in result.stderr
    assert "problem     8 x HTTP 502: model error" in result.stdout
    assert json.loads(out.read_text())["statuses"] == {"502": 8}
    # a threshold lets a run pass with some errors
    fake_api.broken = False
    assert loadtest(
        tmp_path, "--users", "1", "--duration", "30", "--max-requests", "3", "--max-error-rate", "0.5",
        "--outputs-json", str(outputs_file(tmp_path, fake_api)),
    ).returncode == 0  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0", "--duration", "10"], "--users 0: must be 1 to 5000"),
        (["--users", "2", "--duration", "-1"], "--duration -1: must be more than 0"),
        (["--users", "2", "--duration", "5", "--texts-per-request", "7"], "--texts-per-request 7: must be 1 to 6"),
    ],
)
def test_bad_input_is_one_clear_line_and_sends_nothing(tmp_path, fake_api, args, message):
    result = loadtest(tmp_path, *args, "--outputs-json", str(outputs_file(tmp_path, fake_api, max_texts=6)))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert fake_api.calls == []


def test_local_without_a_running_stack_says_to_start_it(tmp_path):
    result = loadtest(tmp_path, "--users", "1", "--duration", "1", "--local")
    assert result.returncode == 1
    assert "no local stack answers" in result.stderr and "hubdeploy local up" in result.stderr


def test_without_the_loadtest_extra_the_error_says_what_to_install(tmp_path, fake_api):
    # given Locust is not installed (`make cli` installs only the CLI's own dependencies)
    code = "import sys; sys.modules['locust'] = None; from hubdeploy.cli import main; raise SystemExit(main())"
    result = loadtest(
        tmp_path, "--users", "1", "--duration", "1", "--outputs-json", str(outputs_file(tmp_path, fake_api)), code=code
    )
    assert result.returncode == 1
    assert "hubdeploy loadtest needs Locust" in result.stderr and "pip install -e '.[loadtest]'" in result.stderr
    assert fake_api.calls == [] and fake_api.token_requests == []


def test_no_other_command_imports_locust_or_gevent(tmp_path):
    # every command module registered, the loadtest modules that need no Locust imported: no gevent patching
    code = (
        "import sys; from hubdeploy.cli import build_parser; build_parser();"
        "import hubdeploy.loadtest.options, hubdeploy.loadtest.report, hubdeploy.loadtest.target;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'locust', 'gevent', 'geventhttpclient'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")},
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    importers = sorted(
        p.relative_to(REPO / "scripts").as_posix()
        for p in (REPO / "scripts" / "hubdeploy").rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if (isinstance(node, ast.Import) and any(a.name.split(".")[0] in {"locust", "gevent"} for a in node.names))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"locust", "gevent"})
    )
    assert set(importers) == {"hubdeploy/loadtest/locustrun.py"}
