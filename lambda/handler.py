"""POST /sentiment: validate the texts, ask the SageMaker endpoint, answer with upper-cased labels.

Entry point `handler.handler` (python3.12+). Request `{"text": "..."}` or `{"texts": ["...", ...]}`;
answer `{"data": [{"label": "POSITIVE", "score": 0.98}, ...], "request_id": "..."}`; failures
`{"message": "...", "code": "...", "request_id": "..."}` with a 4xx/5xx status.

Environment: ENDPOINT_NAME (required), MAX_TEXTS (32), MAX_TEXT_CHARS (5000), MAX_BODY_BYTES (262144),
LOG_LEVEL (INFO); optional ENDPOINT_TIMEOUT_SECONDS (25). Only the standard library and the runtime's boto3.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonlog
import sagemaker_endpoint
from apigw import ApiError, HttpRequest, error_response, parse_event, response

ROUTE = "/sentiment"
DEFAULTS = {"MAX_TEXTS": 32, "MAX_TEXT_CHARS": 5000, "MAX_BODY_BYTES": 262144}


class ConfigError(ValueError):
    """The function's environment is wrong; every request gets a 500 until it is fixed."""


@dataclass(frozen=True)
class Config:
    """The function's settings, read once per container from its environment."""

    endpoint_name: str
    max_texts: int = DEFAULTS["MAX_TEXTS"]
    max_text_chars: int = DEFAULTS["MAX_TEXT_CHARS"]
    max_body_bytes: int = DEFAULTS["MAX_BODY_BYTES"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Raises ConfigError naming the variable when a value is missing or malformed."""
        env = os.environ if env is None else env
        endpoint = env.get("ENDPOINT_NAME", "").strip()
        if not endpoint:
            raise ConfigError("ENDPOINT_NAME is not set")
        limits = {}
        for name, default in DEFAULTS.items():
            raw = env.get(name, "").strip()
            if not raw:
                limits[name] = default
            elif raw.isdigit() and int(raw) > 0:
                limits[name] = int(raw)
            else:
                raise ConfigError(f"{name}={raw!r} is not a positive integer")
        return cls(endpoint, limits["MAX_TEXTS"], limits["MAX_TEXT_CHARS"], limits["MAX_BODY_BYTES"])


logger, _log_format = jsonlog.setup("sentiment", os.environ.get("LOG_LEVEL", "INFO"))
try:
    CONFIG: Config | ConfigError = Config.from_env()
except ConfigError as exc:
    CONFIG = exc  # reported per request (a failing import would only show as Runtime.ImportModuleError)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (API Gateway proxy integration)."""
    return handle(event, context, config=CONFIG)


def handle(
    event: dict[str, Any],
    context: Any,
    *,
    config: Config | ConfigError,
    call: Callable[[str, bytes], bytes] | None = None,
) -> dict[str, Any]:
    """Route one event and turn every outcome into a proxy response; nothing escapes as an exception.

    Args:
        event: API Gateway REST (v1) or HTTP API (v2) proxy event.
        context: the Lambda context (request id, remaining time).
        config: settings, or the error that reading them raised.
        call: replaces the SageMaker transport (tests).
    """
    started = time.perf_counter()
    request_id = str(((event or {}).get("requestContext") or {}).get("requestId") or "")
    request_id = request_id or str(getattr(context, "aws_request_id", "") or "")
    _log_format.request_id = request_id
    fields: dict[str, Any] = {"lambda_request_id": getattr(context, "aws_request_id", None)}
    try:
        if isinstance(config, ConfigError):
            logger.error("configuration error", extra={"problem": str(config)})
            raise ApiError(500, "misconfigured", "the service is misconfigured")
        request = parse_event(event or {}, max_body_bytes=config.max_body_bytes)
        fields.update(method=request.method, path=request.path, body_bytes=len(request.body))
        route(request)
        texts = parse_texts(request.body, config)
        fields.update(texts=len(texts), chars=sum(len(t) for t in texts))
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        entries = sagemaker_endpoint.classify(config.endpoint_name, texts, remaining_millis=remaining, call=call)
        data = [{"label": e["label"].upper(), "score": e["score"]} for e in entries]
        result = response(200, {"data": data}, request_id=request_id)
    except ApiError as error:
        result = error_response(error, request_id=request_id)
        fields["error_code"] = error.code
    except Exception:
        logger.exception("unhandled error")
        result = error_response(ApiError(500, "internal_error", "internal error"), request_id=request_id)
        fields["error_code"] = "internal_error"
    fields.update(status=result["statusCode"], latency_ms=round((time.perf_counter() - started) * 1000, 1))
    logger.info("request completed", extra=fields)
    return result


def route(request: HttpRequest) -> None:
    """Only POST /sentiment with a JSON body exists.

    Raises:
        ApiError: 404 unknown path, 405 wrong method, 415 wrong content type.
    """
    if request.path != ROUTE:
        raise ApiError(404, "not_found", f"no route {_clip(request.path)}: use POST {ROUTE}")
    if request.method != "POST":
        raise ApiError(
            405, "method_not_allowed", f"{request.method} is not allowed: use POST", headers={"Allow": "POST"}
        )
    content_type = request.headers.get("content-type", "")
    media_type, _, params = content_type.partition(";")
    charset = params.partition("charset=")[2].strip().strip('"').lower()
    if media_type.strip().lower() != "application/json" or (charset and charset not in ("utf-8", "utf8")):
        shown = _clip(content_type) or "none"
        raise ApiError(415, "unsupported_media_type", f"Content-Type {shown} is not supported: send application/json")


def _clip(value: str, limit: int = 80) -> str:
    """Client-supplied values echoed in messages are cut short."""
    return value if len(value) <= limit else value[:limit] + "..."


def parse_texts(body: bytes, config: Config) -> list[str]:
    """`{"text": str}` or `{"texts": [str, ...]}` -> the list of texts.

    Raises:
        ApiError: 400 with what is wrong and what to send.
    """
    hint = 'send {"text": "..."} or {"texts": ["...", ...]}'
    if not body.strip():
        raise ApiError(400, "invalid_body", f"the request body is empty: {hint}")
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_body", "the request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "malformed_json", f"the request body is not valid JSON (line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", f"the request body must be a JSON object: {hint}")
    unknown = sorted(set(payload) - {"text", "texts"})
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s) {', '.join(unknown)}: {hint}")
    if ("text" in payload) == ("texts" in payload):
        raise ApiError(400, "missing_text", f"exactly one of text or texts is required: {hint}")

    if "text" in payload:
        texts, names = [payload["text"]], ["text"]
    else:
        texts = payload["texts"]
        if not isinstance(texts, list):
            raise ApiError(400, "invalid_texts", "texts must be a list of strings")
        if not texts:
            raise ApiError(400, "empty_texts", "texts is an empty list: send at least one text")
        if len(texts) > config.max_texts:
            raise ApiError(
                400, "too_many_texts", f"{len(texts)} texts, the limit is {config.max_texts}: split the request"
            )
        names = [f"texts[{i}]" for i in range(len(texts))]
    for name, text in zip(names, texts, strict=True):
        if not isinstance(text, str):
            raise ApiError(400, "invalid_text", f"{name} must be a string")
        if not text.strip():
            raise ApiError(400, "empty_text", f"{name} is empty: send non-blank text")
        if len(text) > config.max_text_chars:
            raise ApiError(
                400, "text_too_long", f"{name} has {len(text)} characters, the limit is {config.max_text_chars}"
            )
    return texts
