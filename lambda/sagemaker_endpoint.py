"""The SageMaker InvokeEndpoint call, its retries, and the mapping of its failures to HTTP answers.

Only throttling is retried (the request was not processed, so repeating it is safe and cheap); a model error,
a timeout or a missing endpoint is answered at once. Clients never see AWS error messages: those go to the
log (without request text), the client gets a status code and a one-line reason.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

import boto3
from apigw import ApiError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

logger = logging.getLogger("sentiment")

CONTENT_TYPE = "application/json"
MAX_ATTEMPTS = 3
DEFAULT_READ_TIMEOUT_SECONDS = 25.0
BACKOFF_BASE_SECONDS = 0.2
RETRY_AFTER_SECONDS = "1"
# Below this much Lambda time left, a retry could not finish before API Gateway's 29 s integration timeout.
MIN_MILLIS_FOR_RETRY = 3000
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})

_client: Any = None
sleep: Callable[[float], None] = time.sleep


def client(*, remaining_millis: int | None = None) -> Any:
    """The sagemaker-runtime client, created on first use and reused by warm invocations.

    botocore's own retries are off: they would also repeat timeouts and 5xx answers, which can run the model
    twice and blow the API Gateway deadline. The read timeout (ENDPOINT_TIMEOUT_SECONDS, default 25 s) is cut
    to leave 2 s of the first invocation's remaining time, so we answer 504 before Lambda kills the function.
    `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` (botocore's standard variable) points it at a local stand-in.
    """
    global _client
    if _client is None:
        read_timeout = float(os.environ.get("ENDPOINT_TIMEOUT_SECONDS", "") or DEFAULT_READ_TIMEOUT_SECONDS)
        if remaining_millis is not None:
            read_timeout = max(1.0, min(read_timeout, remaining_millis / 1000 - 2))
        config = Config(
            connect_timeout=2,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            tcp_keepalive=True,
        )
        _client = boto3.client("sagemaker-runtime", config=config)
    return _client


def call_endpoint(endpoint_name: str, body: bytes, *, remaining_millis: int | None = None) -> bytes:
    """One InvokeEndpoint request; returns the model's response body. Raises botocore's errors unchanged."""
    reply = client(remaining_millis=remaining_millis).invoke_endpoint(
        EndpointName=endpoint_name, Body=body, ContentType=CONTENT_TYPE, Accept=CONTENT_TYPE
    )
    answer: bytes = reply["Body"].read()
    return answer


def classify(
    endpoint_name: str,
    texts: list[str],
    *,
    remaining_millis: Callable[[], int] | None = None,
    call: Callable[[str, bytes], bytes] | None = None,
) -> list[dict[str, Any]]:
    """Ask the endpoint for the top label of each text.

    Args:
        endpoint_name: the SageMaker endpoint.
        texts: validated texts (1..MAX_TEXTS).
        remaining_millis: the Lambda context's clock; no retry is started when too little time is left.
        call: the transport (default `call_endpoint`), replaceable in tests.

    Returns:
        One {"label", "score"} per text, in order, labels as the model names them.

    Raises:
        ApiError: 429/502/503/504 with a client-safe message.
    """
    if call is None:

        def call(name: str, body: bytes) -> bytes:
            return call_endpoint(name, body, remaining_millis=remaining_millis() if remaining_millis else None)

    payload = json.dumps({"inputs": texts}, ensure_ascii=False).encode("utf-8")
    attempt = 1
    while True:
        started = time.perf_counter()
        try:
            raw = call(endpoint_name, payload)
            break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            can_retry = remaining_millis is None or remaining_millis() > MIN_MILLIS_FOR_RETRY
            if code in THROTTLING_CODES and attempt < MAX_ATTEMPTS and can_retry:
                delay = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311 (jitter)
                logger.warning("endpoint throttled", extra={"attempt": attempt, "retry_in_s": round(delay, 3)})
                sleep(delay)
                attempt += 1
                continue
            raise map_client_error(exc, attempt=attempt) from None
        except BotoCoreError as exc:
            raise map_transport_error(exc, elapsed=time.perf_counter() - started) from None
    return parse_model_reply(raw, expected=len(texts))


def map_client_error(exc: ClientError, *, attempt: int) -> ApiError:
    """An AWS error answer -> the HTTP answer the client gets. AWS's message is logged, never returned."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = str(error.get("Message", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    log_fields = {"aws_error_code": code, "aws_status": status, "attempts": attempt}
    retry = {"Retry-After": RETRY_AFTER_SECONDS}

    if code in THROTTLING_CODES:
        logger.warning("endpoint throttled, giving up", extra=log_fields)
        return ApiError(429, "throttled", "the model endpoint is busy: retry after a second", headers=retry)
    if code == "ModelNotReadyException":
        logger.warning("model not ready", extra=log_fields)
        return ApiError(503, "model_not_ready", "the model is not ready yet: retry shortly", headers=retry)
    if code == "ModelError":
        original = exc.response.get("OriginalStatusCode")
        lowered = message.lower()
        logger.error("model error", extra={**log_fields, "model_status": original})
        if "timed out" in lowered or "timeout" in lowered:
            return ApiError(504, "model_timeout", "the model did not answer in time: send fewer or shorter texts")
        return ApiError(502, "model_error", "the model failed to process the request")
    if code in ("ValidationError", "ValidationException"):
        lowered = message.lower()
        if "not found" in lowered or "could not find" in lowered:
            logger.error("endpoint not found", extra=log_fields)
            return ApiError(503, "endpoint_unavailable", "the model endpoint does not exist (yet)", headers=retry)
        if "inservice" in lowered or "in service" in lowered or "status" in lowered:
            logger.error("endpoint not in service", extra=log_fields)
            return ApiError(503, "endpoint_unavailable", "the model endpoint is not in service", headers=retry)
        logger.error("endpoint rejected the request", extra=log_fields)
        return ApiError(502, "upstream_error", "the model endpoint rejected the request")
    if code in ("ServiceUnavailable", "InternalDependencyException") or status in (503, 530):
        logger.error("sagemaker unavailable", extra=log_fields)
        return ApiError(503, "upstream_unavailable", "the model service is unavailable: retry shortly", headers=retry)
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "ExpiredTokenException"):
        logger.error("not allowed to invoke the endpoint", extra=log_fields)
        return ApiError(500, "misconfigured", "the service is misconfigured")
    logger.error("endpoint call failed", extra=log_fields)
    return ApiError(502, "upstream_error", "the model endpoint failed")


def map_transport_error(exc: BotoCoreError, *, elapsed: float) -> ApiError:
    """A failure below the AWS API (network, timeout, credentials) -> HTTP answer."""
    log_fields = {"error_type": type(exc).__name__, "elapsed_ms": round(elapsed * 1000)}
    if isinstance(exc, ReadTimeoutError):
        logger.error("endpoint call timed out", extra=log_fields)
        return ApiError(504, "model_timeout", "the model did not answer in time: send fewer or shorter texts")
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        logger.error("cannot reach sagemaker", extra=log_fields)
        return ApiError(
            503, "upstream_unavailable", "the model service is unreachable: retry shortly", headers={"Retry-After": "1"}
        )
    logger.error("endpoint call failed", extra=log_fields)
    return ApiError(502, "upstream_error", "the model endpoint failed")


def parse_model_reply(raw: bytes, *, expected: int) -> list[dict[str, Any]]:
    """Check the model's JSON: one {"label": str, "score": number} per text."""
    try:
        entries: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        entries = None
    ok = isinstance(entries, list) and len(entries) == expected
    ok = ok and all(
        isinstance(e, dict)
        and isinstance(e.get("label"), str)
        and isinstance(e.get("score"), int | float)
        and not isinstance(e.get("score"), bool)
        for e in entries
    )
    if not ok:
        logger.error("model answered an unexpected shape", extra={"bytes": len(raw), "expected_entries": expected})
        raise ApiError(502, "model_error", "the model returned an unexpected answer")
    checked: list[dict[str, Any]] = entries
    return checked
