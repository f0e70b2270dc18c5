"""`hubdeploy local up|status|down` end to end, as `make demo` runs it, on a scratch copy of the repo with
the tiny stand-in model: pin -> build -> publish -> terraform apply (real dev root, emulated AWS) ->
local endpoint + API -> HTTP answers; a pin change re-applies and serves the new artifact, while `hubdeploy loadtest`
runs 50 users for 60 s against the stack, without a failed request (the servers stay; the runtime switches to the
new model once it is loaded); a docs-only commit
plans "No changes", in `up` and in `hubdeploy preview --endpoint-url` against the stack's emulator; `down`
leaves no process or port behind, also after the emulator crashed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

NEW_REVISION = "4556d13015211d73dccd3fdd39d39232506f3e43"
LOAD_SECONDS = 60


def hubdeploy(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # no GITHUB_*: the commit comes from the scratch repo's git history, as on a laptop
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HF_", "GITHUB_"))}
    env.update({"HUBDEPLOY_ROOT": str(root), "HUBDEPLOY_STANDIN_SIZE": "tiny", "HF_HUB_OFFLINE": "1"})
    return subprocess.run(
        [sys.executable, "-m", "hubdeploy", *args], cwd=root, env=env, text=True, capture_output=True, timeout=timeout
    )


class Background:
    """`hubdeploy ARGS` running while the test goes on; its output is read as it comes (unbuffered)."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HF_", "GITHUB_"))}
        env.update({"HUBDEPLOY_ROOT": str(root), "HUBDEPLOY_STANDIN_SIZE": "tiny", "HF_HUB_OFFLINE": "1"})
        env["PYTHONUNBUFFERED"] = "1"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hubdeploy", *args],
            cwd=root,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def reached(self, text: str, *, timeout: float) -> bool:
        """Wait until a line holding `text` was printed (False: the process ended or time ran out first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.lines)):
                return True
            if self.proc.poll() is not None and not self.reader.is_alive():
                return False
            time.sleep(0.2)
        return False

    def wait(self, *, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return code

    def output(self) -> str:
        return "".join(self.lines)


def loadtest(root: Path, *args: str) -> subprocess.Popen[str]:
    """`hubdeploy loadtest --local` against the stack, in its own process (Locust patches the stdlib with gevent)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HF_", "GITHUB_"))}
    env["HUBDEPLOY_ROOT"] = str(root)
    command = [sys.executable, "-m", "hubdeploy", "loadtest", "--env", "dev", "--local", "--think-time", "1", *args]
    return subprocess.Popen(command, cwd=root, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def answered(info: dict) -> dict[str, int]:
    """200 answers per artifact sha256 the stack's runtime has given so far."""
    with urllib.request.urlopen(info["runtime_url"] + "/local/status", timeout=30) as resp:
        return json.loads(resp.read())["answered"].get(info["endpoint_name"], {})


def post(url: str, body: object, headers: dict[str, str]) -> tuple[int, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def status(root: Path) -> dict:
    return json.loads(hubdeploy(root, "local", "status", "--json").stdout)


def git(root: Path, *args: str) -> str:
    ident = ["-c", "user.name=hubdeploy tests", "-c", "user.email=tests@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(
        ["git", *ident, "-C", str(root), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A", "terraform", "model", "lambda", "README.md")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.mark.loadtest
def test_up_answers_redeploys_on_pin_change_under_load_and_down_cleans_up(repo: Path) -> None:
    root = repo
    load: subprocess.Popen[str] | None = None
    second: Background | None = None
    # a git checkout, as a user's: publish records the commit (git rev-parse HEAD) as provenance
    (root / "README.md").write_text("# hubdeploy (scratch copy)\n")
    git(root, "init", "-q")
    commit_all(root, "initial")
    try:
        # given a fresh checkout copy: `up` runs the whole pipeline
        first = hubdeploy(root, "local", "up", "--env", "dev")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "STAND-IN MODEL: a small BERT" in first.stdout and "trained on this machine on 240" in first.stdout
        # the demo sentences get the labels a person would give them
        assert "a person would say" not in first.stdout, first.stdout[-3000:]
        assert "Plan: " in first.stdout and "to add" in first.stdout  # the PR comment's summary line
        assert "curl -sS -X POST" in first.stdout and "hubdeploy local down" in first.stdout
        # the deploy workflow's smoke test passed against the local API (token flow, golden set, endpoint)
        assert "smoke: PASS  anonymous request refused" in first.stdout and "smoke: FAIL" not in first.stdout
        info = status(root)
        assert info["running"] is True and info["env"] == "dev"
        assert {"api_url", "runtime_url", "aws_endpoint_url", "env", "auth_header"} <= info.keys()
        assert info["auth_header"].startswith("Bearer ")
        auth = {"Authorization": info["auth_header"]}
        url = info["api_url"] + "/sentiment"

        # then the API answers single and batch requests in the documented shape
        code, single = post(url, {"text": "Operating profit rose to EUR 41 mn."}, auth)
        assert code == 200 and len(single["data"]) == 1
        assert single["data"][0]["label"] in {"NEUTRAL", "POSITIVE", "NEGATIVE"} and "request_id" in single
        code, batch = post(url, {"texts": ["Sales fell.", "Profit rose.", "The AGM is on Tuesday."]}, auth)
        assert code == 200 and len(batch["data"]) == 3
        # and refuses bad requests with the documented 4xx
        assert post(url, b"{not json", auth)[0] == 400
        assert post(url, {"text": ""}, auth)[0] == 400
        assert post(url, {"text": "no token"}, {}) == (401, {"message": "Unauthorized"})

        # when the pin changes and `up` runs again (same emulator: a real terraform update) ...
        pin_file = root / "terraform" / "envs" / "dev" / "model.auto.tfvars.json"
        pin_file.write_text(json.dumps({"hub_model_id": "yiyanghkust/finbert-tone", "hub_revision": NEW_REVISION}))
        before = answered(info)
        report_file = root / "loadtest.json"
        second = Background(root, "local", "up", "--env", "dev", "--no-samples")
        # ... and 50 users load the API for 60 s from its plan step on (fetching and building the new stand-in
        # before it takes long on a busy machine; the endpoint changes at the apply that follows)
        assert second.reached("] terraform plan:", timeout=600), second.output()[-3000:]
        load = loadtest(root, "--users", "50", "--duration", str(LOAD_SECONDS), "--out", str(report_file))
        assert second.wait(timeout=600) == 0, second.output()[-3000:]
        assert "reusing the emulator" in second.output() and "to replace" in second.output()
        assert "the servers of the previous `up` keep serving" in second.output()
        after = status(root)
        assert load.poll() is None, "the load test ended before the new model was served: no overlap was tested"
        switched = answered(after)
        load_out, load_err = load.communicate(timeout=LOAD_SECONDS + 90)
        # then no request failed, and answers came from the old model during the update and the new one after it
        assert load.returncode == 0, load_out[-3000:] + load_err[-3000:]
        report = json.loads(report_file.read_text())
        assert report["errors"] == 0 and report["throttles"] == 0 and set(report["statuses"]) == {"200"}, report
        assert report["users"] == 50 and report["elapsed_s"] >= LOAD_SECONDS and report["stopped_by"] == "duration"
        assert report["requests"] >= 10 * LOAD_SECONDS, report  # 50 users with a 1 s think time: not trickling
        old, new = info["artifact_sha256"], after["artifact_sha256"]
        assert switched.get(old, 0) > before.get(old, 0), "the old model answered nothing while the new one loaded"
        assert answered(after).get(new, 0) > switched.get(new, 0), "the new model answered nothing under the load"
        # then the runtime serves the new artifact, at the same URL
        assert after["hub_revision"] == NEW_REVISION
        assert after["artifact_sha256"] != info["artifact_sha256"]
        assert after["api_url"] == info["api_url"]
        code, again = post(url, {"text": "Profit rose."}, {"Authorization": after["auth_header"]})
        assert code == 200 and len(again["data"]) == 1

        # when a commit changes only docs and `up` runs again, it converges: no changes planned, same artifact
        # (the commit is provenance in S3, not a tag Terraform would update)
        commit_all(root, "dev: new pin")
        (root / "README.md").write_text("# hubdeploy (scratch copy)\n\nA docs-only change.\n")
        docs_commit = commit_all(root, "docs only")
        third = hubdeploy(root, "local", "up", "--env", "dev", "--no-samples")
        assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
        assert "Plan: No changes." in third.stdout and "nothing to apply" in third.stdout
        assert status(root)["artifact_sha256"] == after["artifact_sha256"]

        # and `hubdeploy preview` against the stack's emulator builds the same stand-in bytes: "No changes"
        preview = hubdeploy(root, "preview", "--env", "dev", "--endpoint-url", after["aws_endpoint_url"])
        assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
        assert preview.stdout.startswith("<!-- hubdeploy:plan env=dev workflow=pr -->")
        assert "**Plan:** No changes" in preview.stdout, preview.stdout[:3000]
        assert f"commit `{docs_commit[:12]}`" in preview.stdout

        # when the emulator crashes, status says so and exits 1
        pids = after["pids"]
        os.kill(pids["emulator"], signal.SIGKILL)
        time.sleep(0.5)
        crashed = hubdeploy(root, "local", "status")
        assert crashed.returncode == 1 and "emulator is not running" in crashed.stdout
        urls = [after["api_url"], after["runtime_url"], after["aws_endpoint_url"]]
    finally:
        if second is not None and second.proc.poll() is None:
            second.proc.kill()
            second.wait(timeout=60)
        if load is not None and load.poll() is None:
            load.kill()
            load.communicate()
        down = hubdeploy(root, "local", "down")
    # then `down` still cleans up: no process, no port, no pid file
    assert down.returncode == 0, down.stderr
    assert not alive(pids["daemon"]) and not alive(pids["emulator"])
    assert not any(listening(u) for u in urls)
    assert not (root / ".local" / "daemon.json").exists() and not (root / ".local" / "emulator.json").exists()
    assert hubdeploy(root, "local", "status").returncode == 1


def test_busy_port_is_a_clear_error(repo: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = hubdeploy(repo, "local", "up", "--emulator-port", str(port), timeout=120)
    assert result.returncode == 1
    assert f"emulator: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert hubdeploy(repo, "local", "down").returncode == 0
