"""`hubdeploy local up|status|down`: the whole pipeline on one machine, from the model pin to an HTTP answer.

`up` runs the production path against the AWS emulator: bootstrap -> fetch -> build -> publish ->
terraform (the real env root, through the emulator override, in a work copy) -> serve -> ask. Every
file it writes lives under `.local/` of the checkout (git-ignored); the checkout itself is never
written to: the pipeline runs on a mirror of terraform/, model/ and lambda/ in `.local/repo`, so the
generated artifacts tfvars of a real publish are left alone.

Processes (both in their own session, so `up` can return and `down` works from any shell):
- the emulator (`python -m hubdeploy.infra.emulator.server`), pid in `.local/emulator.json`;
- the daemon with the runtime and API servers (`python -m hubdeploy.local.daemon`), pid in `.local/daemon.json`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import ModelPin, check_env, is_commit_sha, read_pin
from hubdeploy.errors import HubdeployError, LocalStackError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.infra.emulator.process import FAKE_CREDENTIALS, Emulator
from hubdeploy.local.daemon import DaemonConfig
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

LOCAL_DIR = ".local"
STANDIN_SIZE_VAR = "HUBDEPLOY_STANDIN_SIZE"  # tiny | base: force a stand-in model of that size
MODEL_SOURCE_VAR = "HUBDEPLOY_LOCAL_MODEL"  # auto (default) | hub | standin
HUB_PROBE_TIMEOUT = 3.0
DAEMON_START_TIMEOUT = 180.0
SAMPLES: tuple[str, ...] = (
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.",
    "The company's net sales decreased by 5.2% and it swung to a pre-tax loss.",
    "The annual general meeting will be held in Helsinki on Tuesday.",
)
BANNER = "!" * 100


@dataclass(frozen=True)
class Paths:
    """Everything `up` writes, under `<repo>/.local`."""

    root: Path

    @classmethod
    def of(cls, repo_root: Path) -> Paths:
        return cls(repo_root / LOCAL_DIR)

    logs = property(lambda self: self.root / "logs")
    emulator = property(lambda self: self.root / "emulator.json")
    daemon = property(lambda self: self.root / "daemon.json")
    daemon_config = property(lambda self: self.root / "daemon-config.json")
    stack = property(lambda self: self.root / "stack.json")
    lock = property(lambda self: self.root / "stack.lock")
    mirror = property(lambda self: self.root / "repo")
    tf_work = property(lambda self: self.root / "tf-work")
    hf_cache = property(lambda self: self.root / "hf-cache")
    standin = property(lambda self: self.root / "standin")
    build = property(lambda self: self.root / "build")

    def pid_files(self) -> tuple[Path, ...]:
        return (self.daemon, self.emulator)


# --- small process helpers ---------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
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
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return False
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def _http_json(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, Any]:
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
def _locked(paths: Paths) -> Iterator[None]:
    """One `up`/`down` at a time per checkout."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalStackError(
                "another `hubdeploy local up/down` is running for this checkout",
                hint="wait for it to finish (or stop it with Ctrl-C), then retry",
            ) from None
        yield


# --- progress ------------------------------------------------------------------------------------------


class Progress:
    """`[n/N] step ...` lines with the time each step took, on stdout."""

    def __init__(self, total: int, *, out: Callable[[str], None] = print) -> None:
        self.total = total
        self.n = 0
        self.out = out
        self.started = time.monotonic()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.n += 1
        self.out(f"[{self.n}/{self.total}] {title} ...")
        t0 = time.monotonic()
        yield
        self.out(f"      done in {time.monotonic() - t0:.1f}s")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# --- the pieces ----------------------------------------------------------------------------------------


def _aws_env(endpoint_url: str, region: str) -> dict[str, str]:
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def ensure_emulator(paths: Paths, *, port: int, out: Callable[[str], None]) -> tuple[str, bool]:
    """Reuse a healthy emulator of an earlier `up`, else start one. Returns (url, started_now)."""
    state = _read_json(paths.emulator) or {}
    pid, url = state.get("pid"), state.get("url")
    if pid and process_alive(pid, "hubdeploy.infra.emulator.server"):
        if url and _emulator_answers(url):
            out(f"      reusing the emulator at {url} (pid {pid})")
            return url, False
        out(f"      the emulator (pid {pid}) does not answer: restarting it")
        stop_process(pid, marker="hubdeploy.infra.emulator.server")
    elif pid:
        out(
            f"      the emulator of the last `up` (pid {pid}) is gone (crashed or killed): its buckets, Terraform "
            "state and endpoint went with it; starting a fresh one and re-applying"
        )
    paths.logs.mkdir(parents=True, exist_ok=True)
    if port and port_open(f"http://127.0.0.1:{port}"):
        raise LocalStackError(
            f"emulator: port {port} on 127.0.0.1 is already in use",
            hint=f"pick another --emulator-port (0 = any free one) or stop what holds it (ss -ltnp 'sport = :{port}')",
        )
    emulator = Emulator(port=port, log_path=paths.logs / "emulator.log").start()
    assert emulator.process is not None
    atomic_write_json(
        paths.emulator, {"pid": emulator.process.pid, "url": emulator.endpoint_url, "started_at": time.time()}
    )
    out(f"      started the emulator at {emulator.endpoint_url} (pid {emulator.process.pid})")
    return emulator.endpoint_url, True


def _emulator_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=5):  # noqa: S310 - loopback
            return True
    except OSError:
        return False


def mirror_repo(repo_root: Path, paths: Paths) -> Path:
    """Copy terraform/, model/, lambda/ of the checkout to `.local/repo` (fresh each `up`)."""
    return copy_checkout(repo_root, paths.mirror)


def _hub_reachable(endpoint: str) -> bool:
    req = urllib.request.Request(endpoint.rstrip("/") + "/api/models?limit=1", method="HEAD")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=HUB_PROBE_TIMEOUT):  # noqa: S310 - fixed https URL
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def _cached_in_user_cache(pin: ModelPin, settings: Settings) -> bool:
    """True when the user's HF cache holds every serving file of the pinned revision (checked offline)."""
    from hubdeploy.artifacts import hub

    try:
        hub.fetch(pin, settings=dataclasses.replace(settings, hf_offline=True))
    except HubdeployError:
        return False
    return True


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hub" | "standin"
    size: str | None = None
    detail: str = ""


def choose_model_source(pin: ModelPin, settings: Settings) -> ModelSource:
    """The real pinned model when the Hub answers or the user's HF cache has it, else a stand-in."""
    from hubdeploy.artifacts import hub

    forced_size = os.environ.get(STANDIN_SIZE_VAR, "").strip().lower()
    choice = os.environ.get(MODEL_SOURCE_VAR, "auto").strip().lower()
    if forced_size and forced_size not in {"tiny", "base"}:
        raise LocalStackError(
            f"{STANDIN_SIZE_VAR}={forced_size!r} is not tiny or base", hint=f"unset {STANDIN_SIZE_VAR} or fix it"
        )
    if choice not in {"auto", "hub", "standin"}:
        raise LocalStackError(
            f"{MODEL_SOURCE_VAR}={choice!r} is not auto, hub or standin", hint=f"unset {MODEL_SOURCE_VAR}"
        )
    if forced_size or choice == "standin":
        return ModelSource("standin", forced_size or "tiny", f"{STANDIN_SIZE_VAR}/{MODEL_SOURCE_VAR} asked for it")
    if _cached_in_user_cache(pin, settings):
        return ModelSource("hub", detail=f"{pin.hub_model_id}@{pin.hub_revision} from your HF cache")
    if not settings.hf_offline and _hub_reachable(hub.hf_endpoint()):
        return ModelSource("hub", detail=f"{pin.hub_model_id}@{pin.hub_revision} from {hub.hf_endpoint()}")
    if choice == "hub":
        raise LocalStackError(
            f"{pin.hub_model_id}@{pin.hub_revision} is neither reachable on the Hub nor in your HF cache",
            hint=f"connect to the Hub once, or unset {MODEL_SOURCE_VAR} to use an untrained stand-in",
        )
    return ModelSource("standin", "tiny", "the Hub is unreachable and the pinned model is not in your HF cache")


def standin_seed(pin: ModelPin) -> int:
    """Weights follow the pin: another revision gives another (still untrained) model and artifact."""
    return int.from_bytes(hashlib.sha256(f"{pin.hub_model_id}@{pin.hub_revision}".encode()).digest()[:4], "big")


def install_standin(pin: ModelPin, paths: Paths, *, size: str) -> str:
    """Build the stand-in for `pin` and lay it out in the PRIVATE cache `.local/hf-cache` as the pinned
    revision; return the revision. The user's own HF cache is never touched."""
    from hubdeploy.artifacts.standin import build_standin_model, folder_revision, install_in_hf_cache

    seed = standin_seed(pin)
    folder = paths.standin / f"{size}-{seed:08x}"
    if not (folder / "config.json").is_file():
        if folder.exists():
            shutil.rmtree(folder)
        build_standin_model(folder, size=size, seed=seed)  # type: ignore[arg-type]
    if is_commit_sha(pin.hub_revision):
        return install_in_hf_cache(folder, paths.hf_cache, pin.hub_model_id, revision=pin.hub_revision, refs=())
    return install_in_hf_cache(
        folder, paths.hf_cache, pin.hub_model_id, revision=folder_revision(folder), refs=(pin.hub_revision,)
    )


def print_untrained_warning(out: Callable[[str], None], size: str) -> None:
    from hubdeploy.artifacts.standin import UNTRAINED_WARNING

    out(BANNER)
    out(f"!!  {UNTRAINED_WARNING}")
    out(f"!!  Size: {size}. The real FinBERT-tone is used when the Hub is reachable or already in your HF cache.")
    out(BANNER)


def cognito_token(
    session: Any, endpoint_url: str, region: str, auth: dict[str, Any], client_secret: str | None
) -> str | None:
    """A fresh `Bearer <access token>` for the env's machine client (client-credentials grant)."""
    from hubdeploy.local.tokens import TokenEndpoint

    if auth.get("mode") != "cognito" or not auth.get("user_pool_id") or not auth.get("client_id") or not client_secret:
        return None
    endpoint = TokenEndpoint(
        cognito=session.client("cognito-idp", endpoint_url=endpoint_url),
        user_pool_id=auth["user_pool_id"],
        region=region,
    )
    answer = endpoint.client_credentials(auth["client_id"], client_secret, auth.get("scope"))
    return f"Bearer {answer['access_token']}"


def auth_headers(state: dict[str, Any]) -> dict[str, str]:
    """Headers a client sends to the local API for the deployed auth mode (fresh token each call)."""
    import boto3

    auth = state.get("auth") or {}
    mode = auth.get("mode", "none")
    endpoint_url, region = state["aws_endpoint_url"], state["region"]
    session = boto3.session.Session(region_name=region, **_session_credentials())
    if mode == "cognito":
        token = cognito_token(session, endpoint_url, region, auth, state.get("client_secret"))
        return {"Authorization": token} if token else {}
    if mode == "api_key" and auth.get("api_key_id"):
        key = session.client("apigateway", endpoint_url=endpoint_url).get_api_key(
            apiKey=auth["api_key_id"], includeValue=True
        )
        return {"x-api-key": key["value"]}
    return {}


def _session_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }


def stop_daemon(paths: Paths) -> bool:
    state = _read_json(paths.daemon) or {}
    stopped = bool(state.get("pid")) and stop_process(int(state["pid"]), marker="hubdeploy.local.daemon")
    paths.daemon.unlink(missing_ok=True)
    return stopped


def start_daemon(paths: Paths, config: DaemonConfig, *, aws_env: dict[str, str]) -> dict[str, Any]:
    """Spawn the daemon in its own session; wait for its ready file; raise with its error otherwise."""
    ready = Path(config.ready_file)
    ready.unlink(missing_ok=True)
    for port, what in ((config.runtime_port, "--runtime-port"), (config.api_port, "--api-port")):
        if port and port_open(f"http://127.0.0.1:{port}"):
            raise LocalStackError(
                f"{'runtime' if what == '--runtime-port' else 'api'}: port {port} on 127.0.0.1 is already in use",
                hint=f"pick another {what} (0 = any free one) or stop what holds it (`ss -ltnp 'sport = :{port}'`)",
            )
    config.write(paths.daemon_config)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = paths.logs / "daemon.log"
    env = {**os.environ, **aws_env}
    env.pop("AWS_PROFILE", None)
    with log_path.open("ab") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hubdeploy.local.daemon", "--config", str(paths.daemon_config)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    atomic_write_json(paths.daemon, {"pid": proc.pid, "started_at": time.time()})
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while True:
        info = _read_json(ready)
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


def _free_port_of(url: str | None) -> int:
    """The port of `url` if nothing listens on it any more, else 0 (any free port)."""
    from urllib.parse import urlsplit

    port = urlsplit(url).port if url else None
    return port if port and not port_open(url or "") else 0


def _read_outputs(outputs: dict[str, Any]) -> tuple[str, str, dict[str, Any], str | None]:
    try:
        return (
            outputs["api_url"],
            outputs["endpoint_name"],
            dict(outputs.get("auth") or {}),
            outputs.get("auth_client_secret"),
        )
    except KeyError as exc:
        raise LocalStackError(
            f"terraform: the env root has no output {exc}", hint="the root must output api_url, endpoint_name and auth"
        ) from None


def plan_summary_text(plan_doc: dict[str, Any]) -> str:
    """What the PR comment shows for this plan: the summary line, the model table, the warnings."""
    from hubdeploy.gitops.comment import model_table_md, warnings_md
    from hubdeploy.gitops.plansummary import summarize

    summary = summarize(plan_doc)
    parts = [f"Plan: {summary.line()}", model_table_md(summary)]
    if summary.warnings:
        parts.append(warnings_md(summary))
    return "\n".join(parts)


def curl_command(api_url: str, headers: dict[str, str]) -> str:
    parts = [f"curl -sS -X POST '{api_url}/sentiment'", "-H 'Content-Type: application/json'"]
    parts += [f"-H '{k}: {v}'" for k, v in headers.items()]
    parts.append("""-d '{"text": "Operating profit rose to EUR 13.1 mn."}'""")
    return " \\\n     ".join(parts)


# --- up / status / down ---------------------------------------------------------------------------------


def up(
    settings: Settings,
    *,
    env: str = "dev",
    api_port: int = 0,
    runtime_port: int = 0,
    emulator_port: int = 0,
    samples: bool = True,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the pipeline against the emulator and serve the result; return what `status` reports."""
    check_env(env)
    repo_root = settings.repo_root
    paths = Paths.of(repo_root)
    with _locked(paths):
        return _up(
            settings,
            paths,
            env=env,
            api_port=api_port,
            runtime_port=runtime_port,
            emulator_port=emulator_port,
            samples=samples,
            out=out,
        )


def _up(
    settings: Settings,
    paths: Paths,
    *,
    env: str,
    api_port: int,
    runtime_port: int,
    emulator_port: int,
    samples: bool,
    out: Callable[[str], None],
) -> dict[str, Any]:
    from hubdeploy.artifacts import build as artifact_build
    from hubdeploy.artifacts import publish
    from hubdeploy.infra import bootstrap, envroot

    progress = Progress(9 if samples else 8, out=out)
    region = settings.aws_region
    out(f"hubdeploy local up --env {env}: the pipeline against an emulated AWS on 127.0.0.1 (files in {paths.root})")
    with progress.step("emulator (moto_server on 127.0.0.1)"):
        endpoint_url, fresh = ensure_emulator(paths, port=emulator_port, out=out)
        aws_env = _aws_env(endpoint_url, region)
        # This process talks only to the emulator from here on, never to a real account.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(aws_env)
        local = dataclasses.replace(settings, aws_endpoint_url=endpoint_url)
        if fresh:
            shutil.rmtree(paths.tf_work, ignore_errors=True)  # its .terraform points at a dead emulator's state
    with progress.step("bootstrap: state and artifact buckets"):
        boot = bootstrap.bootstrap(local)
        out(f"      state bucket {boot.state.name}, artifact bucket {boot.artifacts.name}")
    mirror = mirror_repo(settings.repo_root, paths)
    local = dataclasses.replace(local, repo_root=mirror)
    pin = read_pin(mirror, env)
    with progress.step(f"fetch: {pin.hub_model_id}@{pin.hub_revision}"):
        source = choose_model_source(pin, settings)
        if source.kind == "standin":
            print_untrained_warning(out, source.size or "tiny")
            revision = install_standin(pin, paths, size=source.size or "tiny")
            os.environ["HF_HUB_CACHE"] = str(paths.hf_cache)
            os.environ["HF_HUB_OFFLINE"] = "1"
            local = dataclasses.replace(local, hf_offline=True)
            out(f"      stand-in ({source.size}; {source.detail})")
            out(f"      installed in the private cache {paths.hf_cache} as {pin.hub_model_id}@{revision[:12]}")
        else:
            out(f"      real model: {source.detail}")
        fetched, _ = artifact_build.fetch(local, env=env)
        out(f"      {len(fetched.manifest.files)} files at revision {fetched.manifest.hub_revision}")
    with progress.step("build: model.tar.gz + lambda.zip (byte-reproducible)"):
        built = artifact_build.build(local, env=env, out_dir=paths.build / env)
        for artifact in (built.model, built.lambda_zip):
            out(f"      {artifact.path.name}: sha256 {artifact.sha256[:16]}...")
    with progress.step("publish: upload to the artifact bucket (idempotent)"):
        commit = publish.git_commit(settings.repo_root, settings)
        published = publish.publish(
            local, env=env, artifacts_dir=paths.build / env, bucket=boot.artifacts.name, commit=commit
        )
        for item in (published.model, published.lambda_zip):
            what = "uploaded" if item.bytes_uploaded else "already published, nothing uploaded"
            out(f"      {item.url} ({what})")
    with progress.step(f"terraform plan: terraform/envs/{env} against the emulator"):
        root = envroot.prepare(mirror, env, endpoint_url=endpoint_url, workdir=paths.tf_work / env)
        envroot.init(root, state_bucket=boot.state.name, region=region)
        plan = envroot.plan(root)
        out("      --- the plan summary the PR comment would show ---")
        for line in plan_summary_text(envroot.show_json(root, plan.path)).splitlines():
            out(f"      {line}")
    with progress.step("terraform apply"):
        if plan.has_changes:
            envroot.apply(root, plan.path)
        else:
            out("      nothing to apply")
        outputs = envroot.output_json(root)
        deployed_api_url, endpoint_name, auth, client_secret = _read_outputs(outputs)
        out(f"      endpoint {endpoint_name}, API {deployed_api_url} (auth: {auth.get('mode', 'none')})")
    with progress.step("serve: local SageMaker runtime + API Gateway (background daemon)"):
        previous = _read_json(paths.daemon) or {}
        if stop_daemon(paths):
            out("      stopped the servers of the previous `up`")
        # Keep the URLs of the previous `up` (a curl command from before keeps working) unless told otherwise.
        runtime_port = runtime_port or _free_port_of(previous.get("runtime_url"))
        api_port = api_port or _free_port_of(previous.get("api_url"))
        daemon = start_daemon(
            paths,
            DaemonConfig(
                state_dir=str(paths.root),
                ready_file=str(paths.root / "daemon-ready.json"),
                aws_endpoint_url=endpoint_url,
                region=region,
                endpoint_name=endpoint_name,
                api_url=deployed_api_url,
                lambda_bucket=published.artifacts.artifact_bucket,
                lambda_key=published.artifacts.lambda_s3_key,
                auth_mode=str(auth.get("mode", "none")),
                client_ids=tuple([auth["client_id"]] if auth.get("client_id") else []),
                runtime_port=runtime_port,
                api_port=api_port,
            ),
            aws_env=aws_env,
        )
        out(f"      runtime {daemon['runtime_url']}, API {daemon['api_url']}; loading the deployed model ...")
        status, served = _http_json("POST", daemon["runtime_url"] + "/local/refresh", timeout=600)
        if status != 200:
            message = served.get("Message") if isinstance(served, dict) else served
            raise LocalStackError(
                f"runtime: endpoint {endpoint_name} cannot serve: {message}",
                hint=f"see {paths.logs / 'daemon.log'}; fix, then hubdeploy local up (or: hubdeploy local down)",
            )
        if served["artifact_sha256"] != published.model.sha256:
            raise LocalStackError(
                f"runtime: serves artifact {served['artifact_sha256'][:12]}, not the one just published "
                f"({published.model.sha256[:12]})",
                hint="re-run hubdeploy local up",
            )
        out(f"      serving {served['model_data_url']} (sha256 {served['artifact_sha256'][:16]}...)")
    state = {
        "env": env,
        "api_url": daemon["api_url"],
        "runtime_url": daemon["runtime_url"],
        "token_url": daemon.get("token_url"),
        "aws_endpoint_url": endpoint_url,
        "region": region,
        "deployed_api_url": deployed_api_url,
        "endpoint_name": endpoint_name,
        "auth": auth,
        "client_secret": client_secret,
        "model_source": source.kind,
        "standin_size": source.size,
        "hub_model_id": pin.hub_model_id,
        "hub_revision": fetched.manifest.hub_revision,
        "artifact_sha256": served["artifact_sha256"],
        "model_data_url": served["model_data_url"],
        "logs": str(paths.logs),
    }
    atomic_write_json(paths.stack, state)
    os.chmod(paths.stack, 0o600)  # holds the emulated pool's client secret
    headers = auth_headers(state)
    if samples:
        with progress.step("ask: sample sentences through POST /sentiment, then the post-deploy smoke test"):
            ask_samples(daemon["api_url"], headers, out=out, standin=source.kind == "standin")
            smoke_local(settings, state, outputs, expect_labels=source.kind == "hub", out=out)
    out("")
    out(f"Local stack for {env} is up in {progress.elapsed():.0f}s.")
    out(f"  API:        POST {daemon['api_url']}/sentiment   (auth: {auth.get('mode', 'none')})")
    out(f"  runtime:    {daemon['runtime_url']}  (boto3: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={daemon['runtime_url']})")
    out(f"  emulator:   {endpoint_url}  (AWS_ENDPOINT_URL for boto3 / the AWS CLI, fake credentials)")
    if daemon.get("token_url"):
        out(f"  token URL:  {daemon['token_url']}  (Cognito client-credentials grant for the emulated pool)")
    out("Try it:")
    out("  " + curl_command(daemon["api_url"], headers))
    out("  (a fresh token any time: hubdeploy local status --json)")
    out("Stop everything: hubdeploy local down")
    if source.kind == "standin":
        out("Reminder: the model is an UNTRAINED stand-in; its labels are noise.")
    return {**status_of(paths, quiet=True), "auth_header": headers.get("Authorization")}


def ask_samples(api_url: str, headers: dict[str, str], *, out: Callable[[str], None], standin: bool) -> None:
    """Send the sample sentences (one by one, then as one batch) and print the answers."""
    for text in SAMPLES:
        status, answer = _http_json("POST", f"{api_url}/sentiment", body={"text": text}, headers=headers)
        if status != 200:
            raise LocalStackError(
                f"api: POST /sentiment answered {status}: {answer}", hint="see .local/logs/daemon.log"
            )
        out(f"      {_first_label(answer):>10}  {text}")
    status, answer = _http_json("POST", f"{api_url}/sentiment", body={"texts": list(SAMPLES)}, headers=headers)
    if status != 200:
        raise LocalStackError(
            f"api: batch POST /sentiment answered {status}: {answer}", hint="see .local/logs/daemon.log"
        )
    out(f"      batch of {len(SAMPLES)}: {json.dumps(answer)[:300]}")
    if standin:
        out("      (UNTRAINED stand-in: these labels are noise)")


def smoke_local(
    settings: Settings,
    state: dict[str, Any],
    outputs: dict[str, Any],
    *,
    expect_labels: bool,
    out: Callable[[str], None],
) -> None:
    """Run the smoke test the deploy workflow runs after an apply (`hubdeploy smoke`) against the local
    API: the same token flow (against the local token endpoint), golden sentences, endpoint checks."""
    import boto3

    from hubdeploy.gitops import smoke

    auth = dict(state["auth"])
    if state.get("token_url"):
        auth["token_url"] = state["token_url"]  # the pool domain's token endpoint, served locally
    target = smoke.target_from_outputs(
        state["env"],
        {**outputs, "api_url": state["api_url"], "auth": auth, "auth_client_secret": state.get("client_secret")},
    )
    golden, labels = smoke.load_golden()
    session = boto3.session.Session(region_name=state["region"], **_session_credentials())
    report = smoke.run_smoke(
        target,
        authorizer=smoke.authorizer_for(target, settings),
        golden=golden,
        labels=labels,
        expect_labels=expect_labels,  # an untrained stand-in's labels are noise
        sagemaker=session.client("sagemaker", endpoint_url=state["aws_endpoint_url"]),
        latency_budget_ms=10_000,  # shared 2-core laptops, not the production budget
    )
    for line in report.lines():
        out(f"      smoke: {line}")
    if not report.ok:
        raise LocalStackError(
            "smoke test failed against the local stack (see the FAIL lines above)",
            hint="fix what failed and re-run hubdeploy local up; hubdeploy local down stops everything",
        )


def _first_label(answer: Any) -> str:
    try:
        item = answer["data"][0]
        return f"{item['label']} {item['score']:.2f}"
    except (KeyError, IndexError, TypeError):
        return json.dumps(answer)[:80]


def status_of(paths: Paths, *, quiet: bool = False, with_token: bool = True) -> dict[str, Any]:
    """What runs, where, and a ready auth header; `running` is True only when every part answers."""
    state = _read_json(paths.stack) or {}
    emulator = _read_json(paths.emulator) or {}
    daemon = _read_json(paths.daemon) or {}
    emulator_up = bool(emulator.get("pid")) and process_alive(emulator["pid"], "hubdeploy.infra.emulator.server")
    emulator_up = emulator_up and _emulator_answers(emulator.get("url", ""))
    daemon_up = bool(daemon.get("pid")) and process_alive(daemon["pid"], "hubdeploy.local.daemon")
    served: dict[str, Any] = {}
    if daemon_up and state.get("runtime_url"):
        code, body = _http_json("GET", state["runtime_url"] + "/local/status", timeout=10)
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
            auth_header = auth_headers(state).get("Authorization")
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
    with _locked(paths):
        state = _read_json(paths.stack) or {}
        daemon_state = _read_json(paths.daemon) or {}
        emulator_state = _read_json(paths.emulator) or {}
        stopped = []
        if daemon_state.get("pid") and stop_process(int(daemon_state["pid"]), marker="hubdeploy.local.daemon"):
            stopped.append(f"local servers (pid {daemon_state['pid']})")
        if emulator_state.get("pid") and stop_process(
            int(emulator_state["pid"]), marker="hubdeploy.infra.emulator.server"
        ):
            stopped.append(f"emulator (pid {emulator_state['pid']})")
        urls = [u for u in (state.get("api_url"), state.get("runtime_url"), emulator_state.get("url")) if u]
        deadline = time.monotonic() + 10
        while any(port_open(u) for u in urls) and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = [u for u in urls if port_open(u)]
        for path in (*paths.pid_files(), paths.stack, paths.daemon_config, paths.root / "daemon-ready.json"):
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
