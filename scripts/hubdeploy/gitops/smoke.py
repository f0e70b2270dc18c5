"""Smoke test of a deployed environment: call POST {api_url}/sentiment the way a client would, with golden
financial sentences, and check answers, latency, auth, and that the endpoint serves the config Terraform
just applied.

Authentication is pluggable (`AUTH_MODES`): one function per `auth.mode` of the env root's `auth` output
turns the outputs into an `Authorizer` that adds headers to each request.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from hubdeploy.errors import HubdeployError, UsageError
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

TOKEN_ENV = "HUBDEPLOY_API_TOKEN"  # noqa: S105 - a variable name, not a secret; a ready bearer token: skips the mode's own token request
CLIENT_SECRET_ENV = "HUBDEPLOY_CLIENT_SECRET"  # noqa: S105 - a variable name; Cognito client secret when the outputs do not carry it
API_KEY_ENV = "HUBDEPLOY_API_KEY"  # API key value when the caller may not read it from API Gateway
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
COLD_START_STATUSES = frozenset({429, 502, 503, 504})
REQUIRED_OUTPUTS = ("api_url", "endpoint_name", "endpoint_config_name", "auth")


class SmokeError(HubdeployError):
    """The deployed environment failed its smoke test (or could not be tested)."""


@dataclass(frozen=True)
class Golden:
    text: str
    label: str


def load_golden(path: Path | None = None) -> tuple[list[Golden], frozenset[str]]:
    """Golden sentences and the label set (default: the package's data/golden_sentences.json)."""
    try:
        raw = (
            path.read_text() if path else (resources.files("hubdeploy") / "data" / "golden_sentences.json").read_text()
        )
        data = json.loads(raw)
        sentences = [Golden(text=str(s["text"]), label=str(s["label"]).upper()) for s in data["sentences"]]
        labels = frozenset(str(label).upper() for label in data["labels"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(
            f"cannot read golden sentences from {path or 'the package data'} ({exc})",
            hint='use a JSON file {"labels": [...], "sentences": [{"text": ..., "label": ...}]}',
        ) from None
    if not sentences:
        raise UsageError("the golden sentence file is empty", hint="add at least one sentence")
    return sentences, labels


@dataclass(frozen=True)
class SmokeTarget:
    """What the smoke test calls, from the env root's outputs."""

    env: str
    api_url: str
    endpoint_name: str
    endpoint_config_name: str
    auth: Mapping[str, Any]
    client_secret: str | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return str(self.auth.get("mode") or "none")


def _check_url(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url.rstrip("/")
    raise SmokeError(f"{what} {url!r} is not an https URL", hint="check the env root's outputs")


def target_from_outputs(env: str, outputs: Mapping[str, Any]) -> SmokeTarget:
    """Validate `terraform output -json` values (already unwrapped) into a target."""
    missing = [name for name in REQUIRED_OUTPUTS if outputs.get(name) in (None, "")]
    if missing:
        raise SmokeError(
            f"{env}: terraform outputs lack {', '.join(missing)}",
            hint=f"apply the env first (hubdeploy apply --env {env}) and check terraform/envs/{env}/outputs.tf",
        )
    auth = outputs["auth"]
    if not isinstance(auth, Mapping):
        raise SmokeError(f"{env}: output auth is not an object", hint="check terraform/envs/{env}/outputs.tf")
    secret = outputs.get("auth_client_secret") or outputs.get("client_secret")
    return SmokeTarget(
        env=env,
        api_url=_check_url(str(outputs["api_url"]), "api_url"),
        endpoint_name=str(outputs["endpoint_name"]),
        endpoint_config_name=str(outputs["endpoint_config_name"]),
        auth=dict(auth),
        client_secret=str(secret) if secret else None,
    )


# -- authentication ------------------------------------------------------------------------------


class Authorizer(Protocol):
    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]: ...


@dataclass(frozen=True)
class StaticHeaders:
    """Same headers on every request (bearer token, API key, or none)."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class SigV4:
    """IAM auth: each request signed for execute-api with the caller's AWS credentials."""

    region: str

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = boto3.session.Session().get_credentials()
        if credentials is None:
            raise SmokeError("auth mode iam needs AWS credentials", hint="configure AWS credentials (OIDC in CI)")
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


AuthFactory = Callable[[SmokeTarget, Settings], Authorizer]
AUTH_MODES: dict[str, AuthFactory] = {}


def auth_mode(name: str) -> Callable[[AuthFactory], AuthFactory]:
    """Register how to authenticate for an `auth.mode` value."""

    def register(factory: AuthFactory) -> AuthFactory:
        AUTH_MODES[name] = factory
        return factory

    return register


def _mask(settings: Settings, secret: str) -> None:
    if settings.in_github_actions and secret:
        print(f"::add-mask::{secret}", flush=True)  # GitHub hides it in every later log line


@auth_mode("none")
def _none(target: SmokeTarget, settings: Settings) -> Authorizer:
    return StaticHeaders()


@auth_mode("cognito")
def _cognito(target: SmokeTarget, settings: Settings) -> Authorizer:
    """OAuth2 client-credentials token from the pool's domain (the machine client)."""
    token_url = target.auth.get("token_url")
    client_id = target.auth.get("client_id")
    secret = target.client_secret or os.environ.get(CLIENT_SECRET_ENV)
    if not (token_url and client_id and secret):
        raise SmokeError(
            f"{target.env}: auth mode cognito needs token_url, client_id and the client secret",
            hint=f"check the auth and client_secret outputs, or set {CLIENT_SECRET_ENV} / {TOKEN_ENV}",
        )
    _mask(settings, secret)
    form = {"grant_type": "client_credentials", "client_id": str(client_id)}
    if target.auth.get("scope"):
        form["scope"] = str(target.auth["scope"])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - https (or loopback in tests) checked above
        _check_url(str(token_url), "auth.token_url"),
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            token = json.loads(resp.read())["access_token"]
    except urllib.error.HTTPError as exc:
        raise SmokeError(
            f"{target.env}: the Cognito token endpoint refused the client-credentials request ({exc.code})",
            hint="check the machine client's id/secret and that it allows the client_credentials flow",
        ) from None
    except (urllib.error.URLError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise SmokeError(f"{target.env}: no token from {token_url} ({exc})", hint="check auth.token_url") from None
    _mask(settings, token)
    return StaticHeaders({"Authorization": f"Bearer {token}"})


@auth_mode("api_key")
def _api_key(target: SmokeTarget, settings: Settings) -> Authorizer:
    value = os.environ.get(API_KEY_ENV)
    if not value:
        key_id = target.auth.get("api_key_id")
        if not key_id:
            raise SmokeError(f"{target.env}: auth mode api_key but no api_key_id output", hint=f"set {API_KEY_ENV}")
        from hubdeploy.infra import aws

        with aws.aws_errors("read the API key (apigateway get-api-key)"):
            value = aws.client("apigateway", settings).get_api_key(apiKey=key_id, includeValue=True)["value"]
    _mask(settings, value)
    return StaticHeaders({"x-api-key": value})


@auth_mode("iam")
def _iam(target: SmokeTarget, settings: Settings) -> Authorizer:
    return SigV4(region=settings.aws_region)


def authorizer_for(target: SmokeTarget, settings: Settings) -> Authorizer:
    """The authorizer for the target's mode; HUBDEPLOY_API_TOKEN overrides any mode."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        _mask(settings, token)
        return StaticHeaders({"Authorization": f"Bearer {token}"})
    factory = AUTH_MODES.get(target.mode)
    if factory is None:
        raise SmokeError(
            f"{target.env}: unknown auth mode {target.mode!r}", hint=f"known modes: {', '.join(sorted(AUTH_MODES))}"
        )
    return factory(target, settings)


# -- checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class SmokeReport:
    env: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def lines(self) -> list[str]:
        return [f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    seconds: float


def post(url: str, payload: Any, authorizer: Authorizer | None, *, timeout: float) -> Reply:
    """POST JSON; any HTTP status is a Reply, only a dead connection raises."""
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if authorizer is not None:
        headers.update(authorizer.headers("POST", url, body))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked URL
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise SmokeError(f"cannot reach {url} ({getattr(exc, 'reason', exc)})", hint="is the API deployed?") from None
    elapsed = time.perf_counter() - start
    try:
        data = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        data = raw[:200].decode(errors="replace")
    return Reply(status, data, elapsed)


def _results(data: Any) -> list[Any] | None:
    """The per-text results of a response: `{"data": [...]}` (the API's shape) or a bare list."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return data["data"]
    return data if isinstance(data, list) else None


def check_endpoint(report: SmokeReport, target: SmokeTarget, sagemaker: Any) -> None:
    """The endpoint is InService and serves the endpoint config Terraform applied."""
    from hubdeploy.infra import aws

    with aws.aws_errors(f"describe endpoint {target.endpoint_name}"):
        described = sagemaker.describe_endpoint(EndpointName=target.endpoint_name)
    status = described.get("EndpointStatus")
    report.add("endpoint in service", status == "InService", f"{target.endpoint_name} is {status}")
    serving = described.get("EndpointConfigName")
    report.add(
        "endpoint serves the applied config",
        serving == target.endpoint_config_name,
        f"serving {serving}, terraform applied {target.endpoint_config_name}",
    )


def run_smoke(
    target: SmokeTarget,
    *,
    authorizer: Authorizer,
    golden: list[Golden],
    labels: frozenset[str],
    expect_labels: bool = False,
    latency_budget_ms: float = 3000.0,
    requests: int = 5,
    timeout: float = 30.0,
    sagemaker: Any = None,
    min_accuracy: float = 1.0,
    warmup_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SmokeReport:
    """Every check, in order; never stops at the first failure so the report shows them all."""
    report = SmokeReport(env=target.env)
    if sagemaker is not None:
        check_endpoint(report, target, sagemaker)
    url = f"{target.api_url}/sentiment"
    texts = [g.text for g in golden]

    if target.mode != "none":
        anonymous = post(url, {"texts": texts[:1]}, None, timeout=timeout)
        report.add(
            "anonymous request refused",
            anonymous.status in {401, 403},
            f"HTTP {anonymous.status} without credentials (auth mode {target.mode})",
        )

    # The first call may meet a cold endpoint (serverless, a fresh Lambda): retry what a cold start
    # answers (429/502/503/504) until `warmup_seconds` have passed; it also warms up the latency run.
    deadline = time.monotonic() + warmup_seconds
    while True:
        batch = post(url, {"texts": texts}, authorizer, timeout=timeout)
        if batch.status not in COLD_START_STATUSES or time.monotonic() > deadline:
            break
        log.info(
            "%s: HTTP %s from a cold API; retrying for up to %.0f s more",
            target.env,
            batch.status,
            deadline - time.monotonic(),
        )
        sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    results = _results(batch.data)
    shape_ok = batch.status == 200 and results is not None and len(results) == len(texts)
    report.add(
        "batch answered",
        shape_ok,
        f"HTTP {batch.status}, {len(results) if results is not None else 'no'} results for {len(texts)} texts"
        + ("" if batch.status == 200 else f": {str(batch.data)[:200]}"),
    )
    if shape_ok and results is not None:
        bad = [
            i
            for i, r in enumerate(results)
            if not (
                isinstance(r, dict)
                and str(r.get("label", "")).upper() in labels
                and isinstance(r.get("score"), (int, float))
                and 0.0 <= float(r["score"]) <= 1.0
            )
        ]
        report.add(
            "results well formed",
            not bad,
            "every result has a known label and a score in [0, 1]" if not bad else f"malformed results at {bad}",
        )
        if expect_labels:
            wrong = [
                f"{g.text[:40]!r}: {str(r.get('label')).upper()} != {g.label}"
                for g, r in zip(golden, results, strict=True)
                if not isinstance(r, dict) or str(r.get("label", "")).upper() != g.label
            ]
            correct = len(golden) - len(wrong)
            report.add(
                "labels match the golden set",
                correct >= min_accuracy * len(golden),
                f"{correct}/{len(golden)} correct (need {min_accuracy:.0%})"
                + (f"; {'; '.join(wrong[:3])}" if wrong else ""),
            )

    timings: list[float] = []
    statuses: set[int] = set()
    for i in range(requests):
        reply = post(url, {"texts": [texts[i % len(texts)]]}, authorizer, timeout=timeout)
        statuses.add(reply.status)
        timings.append(reply.seconds * 1000)
    if timings:
        slowest = max(timings)
        report.add(
            "latency within budget",
            statuses == {200} and slowest <= latency_budget_ms,
            f"{requests} single-text requests after warm-up: median {statistics.median(timings):.0f} ms, "
            f"slowest {slowest:.0f} ms, budget {latency_budget_ms:.0f} ms, statuses {sorted(statuses)}",
        )
    return report
