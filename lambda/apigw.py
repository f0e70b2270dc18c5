"""API Gateway proxy events in, proxy responses out (REST API v1 payloads, and HTTP API v2 payloads)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """An answer other than 200: HTTP status, a stable machine-readable code, a one-line message."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class HttpRequest:
    """The parts of a proxy event the API uses. Header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""


def _strip_stage(path: str, stage: str | None) -> str:
    if stage and stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1 :] or "/"
    return path


def parse_event(event: dict[str, Any], *, max_body_bytes: int) -> HttpRequest:
    """Read method, route path, headers and the (base64-decoded) body of a proxy event.

    Raises:
        ApiError: 413 when the body is larger than `max_body_bytes`, 400 when base64 is invalid.
    """
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        method = (context.get("http") or {}).get("method", "")
        route = event.get("routeKey") or ""
        # "POST /sentiment" names the route; "$default" catch-alls only have the raw path (with the stage).
        path = (
            route.split(" ", 1)[1] if " " in route else _strip_stage(event.get("rawPath") or "/", context.get("stage"))
        )
    else:
        method = event.get("httpMethod") or ""
        # REST proxy: `resource` is the matched route ("/sentiment") whatever base-path mapping a custom domain
        # adds to `path`; a greedy `{proxy+}` resource leaves only `path` to route on.
        resource = event.get("resource") or ""
        path = resource if resource and "{" not in resource else (event.get("path") or "/")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}

    raw = event.get("body")
    if raw is None:
        body = b""
    elif event.get("isBase64Encoded"):
        # 4 base64 characters carry 3 bytes: reject before decoding something far too large.
        if len(raw) > (max_body_bytes + 2) // 3 * 4 + 4:
            raise _too_large(max_body_bytes)
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "invalid_body", "the body is marked base64-encoded but is not valid base64") from None
    else:
        body = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(body) > max_body_bytes:
        raise _too_large(max_body_bytes)

    return HttpRequest(
        method=method.upper(),
        path=path.rstrip("/") or "/",
        headers=headers,
        body=body,
        request_id=str(context.get("requestId") or ""),
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "body_too_large", f"the request body is larger than {limit} bytes: send fewer or shorter texts"
    )


def response(
    status: int, payload: dict[str, Any], *, request_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A proxy response (the same shape serves REST v1 and HTTP API v2)."""
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Request-Id": request_id,
            **(headers or {}),
        },
        "body": json.dumps({**payload, "request_id": request_id}, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_response(error: ApiError, *, request_id: str) -> dict[str, Any]:
    """The JSON error body: `{"message": ..., "code": ..., "request_id": ...}` (API Gateway's own errors
    also carry `message`)."""
    return response(
        error.status, {"message": error.message, "code": error.code}, request_id=request_id, headers=error.headers
    )
