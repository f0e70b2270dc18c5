"""A SageMaker-runtime-compatible server on 127.0.0.1 serving what the emulated control plane deployed.

Routes:
- `POST /endpoints/{name}/invocations`: InvokeEndpoint, as boto3's `sagemaker-runtime` client sends it
  (point it here with `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`). Errors come back as SageMaker's: ModelError
  (424, with OriginalStatusCode/OriginalMessage), ValidationError (400, endpoint not found / not in
  service), ServiceUnavailable (503, control plane unreachable), InternalFailure (500).
- `GET /ping`, `POST /invocations`: the container contract for the default endpoint (raw model status).
- `GET /local/status`, `POST /local/refresh[?endpoint=NAME]`: what is served (digest, model data URL, what is
  loading, 200 answers per artifact), and "resolve and load now", for `hubdeploy local` and tests.

Each call resolves endpoint -> config -> model -> ModelDataUrl (cached for `resolve_ttl` seconds); when
the deployed artifact changes, the new one is downloaded, verified and loaded in the background while the old
one keeps answering, then swapped in (a new artifact that fails to load leaves the old one serving), as
SageMaker's in-place UpdateEndpoint does.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hubdeploy.errors import ArtifactError, DeploymentFault, ModelLoadError, RuntimeFault
from hubdeploy.local.artifacts import fetch_model_artifact
from hubdeploy.local.deployment import Deployment, expected_sha256, resolve_deployment
from hubdeploy.local.httpserve import BackgroundServer, QuietHandler
from hubdeploy.local.toolkit import ModelResponse, ToolkitModel

log = logging.getLogger(__name__)
INVOKE_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
ARTIFACT_HEADER = "X-Hubdeploy-Artifact-Sha256"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time InvokeEndpoint payload limit


@dataclass
class Served:
    """The model currently answering for one endpoint."""

    deployment: Deployment
    sha256: str
    digest_source: str
    model: ToolkitModel
    loaded_at: float

    def describe(self) -> dict[str, Any]:
        d = self.deployment
        return {
            "endpoint_name": d.endpoint_name,
            "endpoint_config_name": d.endpoint_config_name,
            "model_name": d.model_name,
            "variant_name": d.variant_name,
            "model_data_url": d.model_data_url,
            "artifact_sha256": self.sha256,
            "digest_source": self.digest_source,
            "model_dir": str(self.model.model_dir),
            "loaded_at": self.loaded_at,
        }


@dataclass(frozen=True)
class FailedLoad:
    """An artifact (its model data URL and digest) that failed to load for an endpoint, and SageMaker's error."""

    url: str
    sha256: str
    fault: RuntimeFault


def model_error(endpoint: str, region: str, account_id: str, status: int, message: str) -> RuntimeFault:
    """SageMaker's wrapping of a container's non-200 answer."""
    kind = "client" if 400 <= status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return RuntimeFault(
        "ModelError",
        424,
        f'Received {kind} error ({status}) from primary with message "{message}". See the runtime log '
        f"(log group {group}) for more information.",
        OriginalStatusCode=status,
        OriginalMessage=message,
        LogStreamArn=f"arn:aws:logs:{region}:{account_id}:log-group:{group}",
    )


class LocalRuntime:
    """Resolve, fetch, verify, load and serve deployed endpoints; see the module docstring for routes."""

    def __init__(
        self,
        *,
        sagemaker: Any,
        s3: Any,
        cache_dir: Path,
        default_endpoint: str | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        resolve_ttl: float = 1.0,
    ) -> None:
        self.sagemaker = sagemaker
        self.s3 = s3
        self.cache_dir = cache_dir
        self.default_endpoint = default_endpoint
        self.region = region
        self.account_id = account_id
        self.resolve_ttl = resolve_ttl
        self._served: dict[str, Served] = {}
        self._checked: dict[str, float] = {}
        self._failed: dict[str, FailedLoad] = {}  # endpoint -> the artifact that last failed to load there
        self._load_lock = threading.Lock()
        self._resolving = threading.Lock()
        self._count_lock = threading.Lock()
        self._loading: dict[str, str] = {}  # endpoint -> model data URL being loaded in the background
        self._answered: dict[str, Counter[str]] = {}  # endpoint -> artifact sha256 -> 200 answers
        self._server: BackgroundServer | None = None

    # --- serving -----------------------------------------------------------------------------------
    def ensure(self, endpoint_name: str, *, force: bool = False) -> Served:
        """The model serving `endpoint_name` now; a changed deployment is loaded without blocking callers.

        As an in-place UpdateEndpoint, a new artifact is loaded beside the served one and swapped in once it is
        loaded; until then (and for good when it fails to load) the old model keeps answering. Only with nothing
        served yet, or with `force` (`/local/refresh`: "load it now"), does the caller wait for the load.

        Raises:
            RuntimeFault: SageMaker's error for the situation (not found, artifact corrupt, load failed).
        """
        served = self._served.get(endpoint_name)
        if served is not None and not force:
            if time.monotonic() - self._checked.get(endpoint_name, 0.0) < self.resolve_ttl:
                return served
            return self._recheck(endpoint_name, served)
        with self._load_lock:  # one load at a time; a forced refresh waits for a background load in flight
            served = self._served.get(endpoint_name)
            deployment = self._resolve(endpoint_name)
            if served and served.deployment.model_data_url == deployment.model_data_url:
                served.deployment = deployment  # config/model names may change while the artifact does not
                self._checked[endpoint_name] = time.monotonic()
                return served
            served = self._load(deployment, force=force)
            self._served[endpoint_name] = served
            self._checked[endpoint_name] = time.monotonic()
            return served

    def _recheck(self, endpoint_name: str, served: Served) -> Served:
        """Resolve again (one caller at a time; the others answer with `served`); start loading a new artifact."""
        if not self._resolving.acquire(blocking=False):
            return served
        try:
            try:
                deployment = self._resolve(endpoint_name)
            except RuntimeFault as fault:
                if fault.code == "InternalFailure":
                    return served  # read mid-update (the config or model just replaced): keep serving, retry
                raise
            self._checked[endpoint_name] = time.monotonic()
            if deployment.model_data_url == served.deployment.model_data_url:
                served.deployment = deployment
            else:
                self._load_in_background(deployment)
            return served
        finally:
            self._resolving.release()

    def _load_in_background(self, deployment: Deployment) -> None:
        name, url = deployment.endpoint_name, deployment.model_data_url
        failed = self._failed.get(name)
        with self._count_lock:
            if self._loading.get(name) == url or (failed and failed.url == url):
                return  # already loading it, or it failed to load: the old model keeps serving
            self._loading[name] = url
        threading.Thread(target=self._swap_in, args=(deployment,), name=f"load {name}", daemon=True).start()

    def _swap_in(self, deployment: Deployment) -> None:
        """Load `deployment`'s model, then let it answer; a failed load leaves the old model serving.

        SageMaker does the same: an UpdateEndpoint that fails leaves the endpoint InService on its previous
        configuration, with FailureReason set (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
        API_EndpointMetadata.html); until the new instances are ready the old ones keep serving
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html: no availability loss).
        """
        name = deployment.endpoint_name
        try:
            with self._load_lock:
                current = self._served.get(name)
                if current and current.deployment.model_data_url == deployment.model_data_url:
                    return  # a forced refresh loaded it meanwhile
                try:
                    loaded = self._load(deployment, force=False)
                except RuntimeFault as fault:
                    log.warning("runtime: endpoint %s keeps serving its previous model: %s", name, fault.message)
                    return
                self._served[name] = loaded
                log.info("runtime: endpoint %s switched to %s", name, deployment.model_data_url)
        finally:
            with self._count_lock:
                self._loading.pop(name, None)

    def _resolve(self, endpoint_name: str) -> Deployment:
        try:
            return resolve_deployment(self.sagemaker, endpoint_name, account_id=self.account_id)
        except DeploymentFault as exc:
            if exc.status == 400:  # the endpoint is gone or not in service: nothing answers for it any more
                self._served.pop(endpoint_name, None)
            raise RuntimeFault(exc.code, exc.status, exc.message) from None
        except Exception as exc:  # the emulator is down or answers garbage
            raise RuntimeFault(
                "ServiceUnavailable",
                503,
                f"the SageMaker control plane (AWS emulator) did not answer: {exc}",
            ) from None

    def _load(self, deployment: Deployment, *, force: bool) -> Served:
        name = deployment.endpoint_name
        try:
            sha256, source = expected_sha256(self.s3, deployment)
        except DeploymentFault as exc:
            raise model_error(name, self.region, self.account_id, 500, exc.message) from None
        failed = self._failed.get(name)
        if failed and (failed.url, failed.sha256) == (deployment.model_data_url, sha256) and not force:
            raise failed.fault  # the same broken artifact: do not download and load it again on every call
        log.info("runtime: endpoint %s serves %s (sha256 %s)", name, deployment.model_data_url, sha256[:12])
        try:
            model_dir = fetch_model_artifact(
                self.s3, bucket=deployment.bucket, key=deployment.key, sha256=sha256, cache_dir=self.cache_dir
            )
            model = ToolkitModel(model_dir, environment=deployment.environment, name=deployment.model_name)
        except ArtifactError as exc:
            fault = model_error(name, self.region, self.account_id, 500, exc.message)
            self._failed[name] = FailedLoad(deployment.model_data_url, sha256, fault)
            raise fault from None
        except ModelLoadError as exc:
            fault = model_error(name, self.region, self.account_id, 500, f"model failed to load: {exc}")
            self._failed[name] = FailedLoad(deployment.model_data_url, sha256, fault)
            raise fault from None
        self._failed.pop(name, None)
        return Served(deployment=deployment, sha256=sha256, digest_source=source, model=model, loaded_at=time.time())

    def invoke(
        self, endpoint_name: str, body: bytes, *, content_type: str | None, accept: str | None
    ) -> tuple[Served, ModelResponse]:
        """InvokeEndpoint: a 200 answer, or RuntimeFault with SageMaker's error."""
        if len(body) > MAX_PAYLOAD_BYTES:
            raise RuntimeFault("ValidationError", 400, f"Request payload is larger than {MAX_PAYLOAD_BYTES} bytes.")
        served = self.ensure(endpoint_name)
        answer = served.model.invoke(body, content_type=content_type, accept=accept)
        if answer.status != 200:
            raise model_error(endpoint_name, self.region, self.account_id, answer.status, answer.message)
        with self._count_lock:
            self._answered.setdefault(endpoint_name, Counter())[served.sha256] += 1
        return served, answer

    def status(self) -> dict[str, Any]:
        """What is served; `loading`: a new artifact being loaded beside it; `answered`: 200s per artifact."""
        with self._count_lock:
            answered = {name: dict(counts) for name, counts in self._answered.items()}
            loading = dict(self._loading)
        return {
            "default_endpoint": self.default_endpoint,
            "endpoints": {name: s.describe() for name, s in list(self._served.items())},
            "failed": {name: f.fault.message for name, f in self._failed.items()},
            "loading": loading,
            "answered": answered,
        }

    # --- HTTP --------------------------------------------------------------------------------------
    def start(self, *, port: int = 0) -> LocalRuntime:
        runtime = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                runtime._route(self, "GET")

            def do_POST(self) -> None:
                runtime._route(self, "POST")

        self._server = BackgroundServer(Handler, port=port, part="runtime (SageMaker runtime server)").start()
        return self

    @property
    def url(self) -> str:
        assert self._server, "start() first"
        return self._server.url

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None
        for served in list(self._served.values()):
            served.model.close()  # the serving model's container environment is not the host's after the stack

    def _route(self, h: QuietHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        try:
            match = INVOKE_PATH.match(path)
            if method == "POST" and match:
                self._http_invoke(h, unquote(match["name"]), container=False)
            elif method == "POST" and path == "/invocations":
                self._http_invoke(h, self._default(), container=True)
            elif method == "GET" and path == "/ping":
                self.ensure(self._default())
                h.send(200, b"", {"Content-Type": "text/plain"})
            elif method == "GET" and path == "/local/status":
                h.send_json(200, self.status())
            elif method == "POST" and path == "/local/refresh":
                h.read_body()
                name = parse_qs(parts.query).get("endpoint", [None])[0] or self._default()
                h.send_json(200, self.ensure(name, force=True).describe())
            else:
                raise RuntimeFault("UnknownOperationException", 404, f"no route for {method} {path}")
        except RuntimeFault as fault:
            if path in {"/ping", "/invocations"}:  # the container contract has no error envelope
                status = fault.extra.get("OriginalStatusCode", fault.status)
                h.send(int(status), fault.message.encode(), {"Content-Type": "text/plain"})
            else:
                h.send_json(fault.status, fault.body(), {"x-amzn-ErrorType": fault.code})

    def _default(self) -> str:
        if not self.default_endpoint:
            raise RuntimeFault(
                "ValidationError", 400, "this runtime has no default endpoint; use /endpoints/NAME/invocations"
            )
        return self.default_endpoint

    def _http_invoke(self, h: QuietHandler, endpoint_name: str, *, container: bool) -> None:
        body = h.read_body()
        served, answer = self.invoke(
            endpoint_name, body, content_type=h.headers.get("Content-Type"), accept=h.headers.get("Accept")
        )
        headers = {"Content-Type": answer.content_type, ARTIFACT_HEADER: served.sha256}
        if not container:
            headers["x-Amzn-Invoked-Production-Variant"] = served.deployment.variant_name
        h.send(200, answer.body, headers)


def runtime_from_env(*, cache_dir: Path, default_endpoint: str | None, region: str, endpoint_url: str) -> LocalRuntime:
    """A runtime whose control-plane clients talk to the emulator at `endpoint_url`."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    session = boto3.session.Session(region_name=region)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url, config=config)
    s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
    try:
        account_id = session.client("sts", endpoint_url=endpoint_url, config=config).get_caller_identity()["Account"]
    except Exception:
        account_id = "123456789012"  # moto's default account
    return LocalRuntime(
        sagemaker=sagemaker,
        s3=s3,
        cache_dir=cache_dir,
        default_endpoint=default_endpoint,
        region=region,
        account_id=account_id,
    )
