"""Smoke test of a deployed environment: call POST {api_url}/sentiment the way a client would, with golden
financial sentences, and check answers, latency, auth, and that the endpoint serves the config Terraform
just applied.

Authentication (one function per `auth.mode` of the env root's `auth` output) lives in `gitops.auth`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hubdeploy.errors import SmokeError, UsageError
from hubdeploy.gitops.auth import ApiAccess, Authorizer, check_url
from hubdeploy.settings import SMOKE_API_URL_VAR, Settings

log = logging.getLogger(__name__)

COLD_START_STATUSES = frozenset({429, 502, 503, 504})
REQUIRED_OUTPUTS = ("api_url", "endpoint_name", "endpoint_config_name", "auth")


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
    # the API's MAX_TEXTS (output request_limits): the golden set is sent in batches no larger
    max_texts: int | None = None

    @property
    def mode(self) -> str:
        return self.access.mode

    @property
    def access(self) -> ApiAccess:
        """How a client authenticates to this target's API."""
        return ApiAccess(env=self.env, auth=self.auth, client_secret=self.client_secret)


def target_from_outputs(env: str, outputs: Mapping[str, Any]) -> SmokeTarget:
    """Validate `terraform output -json` values (already unwrapped) into a target."""
    missing = [name for name in REQUIRED_OUTPUTS if outputs.get(name) in (None, "")]
    if missing:
        raise SmokeError(
            f"{env}: terraform outputs lack {', '.join(missing)}",
            hint=f"apply the env first (hubdeploy apply --env {env}) and check terraform/root/outputs.tf",
        )
    auth = outputs["auth"]
    if not isinstance(auth, Mapping):
        raise SmokeError(f"{env}: output auth is not an object", hint="check terraform/root/outputs.tf")
    secret = outputs.get("auth_client_secret") or outputs.get("client_secret")
    limits = outputs.get("request_limits")
    max_texts = limits.get("max_texts") if isinstance(limits, Mapping) else None
    return SmokeTarget(
        env=env,
        api_url=check_url(str(outputs["api_url"]), "api_url"),
        endpoint_name=str(outputs["endpoint_name"]),
        endpoint_config_name=str(outputs["endpoint_config_name"]),
        auth=dict(auth),
        client_secret=str(secret) if secret else None,
        max_texts=int(max_texts) if max_texts else None,
    )


def deployed_target(settings: Settings, env: str, outputs_json: Path | None = None) -> SmokeTarget:
    """The env's API as clients reach it: its terraform outputs (or saved ones), at HUBDEPLOY_SMOKE_API_URL when
    set (the same API behind a custom domain or a proxy). `smoke` and `loadtest` call the same target."""
    from hubdeploy.infra.envroot import read_outputs

    target = target_from_outputs(env, read_outputs(settings, env, outputs_json))
    if settings.smoke_api_url:
        target = dataclasses.replace(target, api_url=check_url(settings.smoke_api_url, SMOKE_API_URL_VAR))
    return target


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
    size = target.max_texts or len(texts)
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    deadline = time.monotonic() + warmup_seconds
    while True:
        batch = post(url, {"texts": chunks[0]}, authorizer, timeout=timeout)
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
    for chunk in chunks[1:]:
        if batch.status != 200 or results is None:
            break
        batch = post(url, {"texts": chunk}, authorizer, timeout=timeout)
        more = _results(batch.data)
        results = results + more if more is not None else None
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
