"""API Gateway (REST, proxy integration) on 127.0.0.1 in front of our Lambda handler.

An HTTP request is matched against the deployed routes (resource path + method), authorised as the
method requires (Cognito JWT, API key, IAM), turned into a REST API proxy event (payload v1), handed to
the Lambda handler, and its `{statusCode, headers, body, isBase64Encoded}` becomes the HTTP answer.
Gateway-level failures answer as API Gateway does: 403 "Missing Authentication Token" for an unknown
route, 401 "Unauthorized" for a missing/bad token, 403 "Forbidden" for a bad API key, 413 for a body over
10 MB, 502 "Internal server error" when the handler raises or returns a malformed response.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hubdeploy.errors import TokenRejected
from hubdeploy.local.httpserve import BackgroundServer, QuietHandler
from hubdeploy.local.jwtauth import CognitoVerifier
from hubdeploy.local.lambdarun import LambdaFunction
from hubdeploy.local.tokens import TokenEndpoint

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
REQUEST_ID_HEADER = "x-amzn-RequestId"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path. The user pool domain's token endpoint, served next to the API locally


@dataclass(frozen=True)
class Route:
    """One method on one resource, with its authorisation settings."""

    resource: str  # "/sentiment" (may end in "{proxy+}")
    method: str  # "POST" or "ANY"
    authorization: str = "NONE"  # NONE | COGNITO_USER_POOLS | AWS_IAM | CUSTOM
    api_key_required: bool = False
    scopes: tuple[str, ...] = ()
    identity_header: str = "Authorization"
    # The method's request validator with a body model: content type -> JSON schema (draft 4)
    body_schemas: tuple[tuple[str, str], ...] = ()

    def matches(self, method: str, path: str) -> bool:
        if self.method not in {"ANY", method}:
            return False
        if self.resource.endswith("{proxy+}"):
            return path.startswith(self.resource[: -len("{proxy+}")])
        return path.rstrip("/") == self.resource.rstrip("/") or (path == "/" and self.resource == "/")


@dataclass
class ApiConfig:
    """What the gateway needs: the stage, its routes and authorisers, and the function behind them."""

    stage: str
    routes: list[Route]
    function: LambdaFunction
    api_id: str = "local"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    verifier: CognitoVerifier | None = None
    api_keys: frozenset[str] = frozenset()
    auth_mode: str = "none"
    token_endpoint: TokenEndpoint | None = None  # Cognito's /oauth2/token for the pool (moto lacks it)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def gateway_error(status: int, message: str, request_id: str, error_type: str) -> GatewayResponse:
    """API Gateway's own error body: `{"message": ...}` plus its error-type header."""
    return GatewayResponse(
        status,
        {"Content-Type": "application/json", REQUEST_ID_HEADER: request_id, "x-amzn-ErrorType": error_type},
        json.dumps({"message": message}).encode(),
    )


def build_proxy_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route: Route,
    config: ApiConfig,
    request_id: str,
    source_ip: str = "127.0.0.1",
    claims: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy integration event (payload format 1.0) for one request."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # the last value wins, as in API Gateway
        multi.setdefault(name, []).append(value)
    pairs = parse_qsl(query, keep_blank_values=True)
    qs = {k: v for k, v in pairs} or None
    mqs: dict[str, list[str]] = {}
    for k, v in pairs:
        mqs.setdefault(k, []).append(v)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_b64 = False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    path_params = None
    if route.resource.endswith("{proxy+}"):
        path_params = {"proxy": path[len(route.resource) - len("{proxy+}") :]}
    authorizer: dict[str, Any] | None = {"claims": claims} if claims is not None else None
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mqs or None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{config.stage}{path}",
            "accountId": config.account_id,
            "protocol": "HTTP/1.1",
            "stage": config.stage,
            "domainPrefix": config.api_id,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single.get("User-Agent") or single.get("user-agent"),
                "apiKey": api_key,
            },
            "domainName": f"{config.api_id}.execute-api.{config.region}.amazonaws.com",
            "apiId": config.api_id,
            **({"authorizer": authorizer} if authorizer else {}),
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def body_matches_model(route: Route, content_type: str | None, body: bytes) -> bool:
    """API Gateway's request validator: the body must be JSON matching the model of its content type
    (no Content-Type means application/json); a content type without a model is not validated."""
    import jsonschema

    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    schema = dict(route.body_schemas).get(media)
    if schema is None:
        return True
    try:
        jsonschema.Draft4Validator(json.loads(schema)).validate(json.loads(body or b"null"))
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


class LocalApi:
    """The gateway: `handle(...)` is the whole request path; `start()` serves it over HTTP."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self._server: BackgroundServer | None = None

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, *, source_ip: str = "127.0.0.1"
    ) -> GatewayResponse:
        """One request through routing, auth, the Lambda handler and response mapping."""
        request_id = str(uuid.uuid4())
        parts = urlsplit(raw_path)
        path = parts.path
        if path == TOKEN_PATH and method == "POST" and self.config.token_endpoint is not None:
            status, payload = self.config.token_endpoint.handle_http(dict(headers), body)
            return GatewayResponse(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
        stage_prefix = f"/{self.config.stage}"
        if path == stage_prefix or path.startswith(stage_prefix + "/"):
            path = path[len(stage_prefix) :] or "/"  # both /dev/sentiment (like the invoke URL) and /sentiment
        route = next((r for r in self.config.routes if r.matches(method, path)), None)
        if route is None:
            return gateway_error(403, "Missing Authentication Token", request_id, "MissingAuthenticationTokenException")
        if len(body) > MAX_BODY_BYTES:
            return gateway_error(413, "Request Too Long", request_id, "RequestTooLongException")
        claims: dict[str, Any] | None = None
        if route.authorization == "COGNITO_USER_POOLS":
            token = _header(headers, route.identity_header)
            if not token or self.config.verifier is None:
                return gateway_error(401, "Unauthorized", request_id, "UnauthorizedException")
            try:
                claims = self.config.verifier.verify(token, scopes=route.scopes)
            except TokenRejected as exc:
                log.info("api: %s %s rejected: token %s", method, path, exc)
                return gateway_error(401, "Unauthorized", request_id, "UnauthorizedException")
        elif route.authorization == "AWS_IAM":
            auth = _header(headers, "Authorization") or ""
            if not auth.startswith("AWS4-HMAC-SHA256 "):
                return gateway_error(
                    403, "Missing Authentication Token", request_id, "MissingAuthenticationTokenException"
                )
        api_key = _header(headers, "x-api-key")
        if route.api_key_required and (not api_key or api_key not in self.config.api_keys):
            return gateway_error(403, "Forbidden", request_id, "ForbiddenException")
        if route.body_schemas and not body_matches_model(route, _header(headers, "Content-Type"), body):
            return gateway_error(400, "Invalid request body", request_id, "BadRequestException")
        event = build_proxy_event(
            method=method,
            path=path,
            query=parts.query,
            headers=headers,
            body=body,
            route=route,
            config=self.config,
            request_id=request_id,
            source_ip=source_ip,
            claims=claims,
            api_key=api_key,
        )
        started = time.monotonic()
        try:
            result = self.config.function.invoke(event)
        except Exception:
            log.exception("api: the Lambda handler raised (API Gateway answers 502)")
            return gateway_error(502, "Internal server error", request_id, "InternalServerErrorException")
        log.debug("api: %s %s -> handler in %.0f ms", method, path, 1000 * (time.monotonic() - started))
        return self._to_response(result, request_id)

    @staticmethod
    def _to_response(result: Any, request_id: str) -> GatewayResponse:
        """Map the proxy integration result; a malformed one is API Gateway's 502."""
        try:
            if not isinstance(result, dict):
                raise TypeError("not an object")
            raw_status: Any = result.get("statusCode")
            status = int(raw_status)
            out_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
            for key, values in (result.get("multiValueHeaders") or {}).items():
                out_headers[str(key)] = ", ".join(str(v) for v in values)
            body_field = result.get("body")
            if body_field is None:
                data = b""
            elif not isinstance(body_field, str):
                raise TypeError("body is not a string")
            elif result.get("isBase64Encoded"):
                data = base64.b64decode(body_field, validate=True)
            else:
                data = body_field.encode()
        except (TypeError, ValueError, binascii.Error) as exc:
            log.error("api: malformed Lambda proxy response (%s): API Gateway answers 502", exc)
            return gateway_error(502, "Internal server error", request_id, "InternalServerErrorException")
        out_headers.setdefault(REQUEST_ID_HEADER, request_id)
        return GatewayResponse(status, out_headers, data)

    # --- HTTP --------------------------------------------------------------------------------------
    def start(self, *, port: int = 0) -> LocalApi:
        api = self

        class Handler(QuietHandler):
            def _any(self) -> None:
                body = self.read_body()
                resp = api.handle(
                    self.command, self.path, list(self.headers.items()), body, source_ip=self.client_address[0]
                )
                self.send(resp.status, resp.body, resp.headers)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _any

        self._server = BackgroundServer(Handler, port=port, part="api (local API Gateway)").start()
        return self

    @property
    def url(self) -> str:
        """Base URL; like an invoke URL it includes the stage: POST {url}/sentiment."""
        assert self._server, "start() first"
        return f"{self._server.url}/{self.config.stage}"

    @property
    def token_url(self) -> str | None:
        """The local stand-in for the pool domain's https://<domain>.auth.<region>.amazoncognito.com/oauth2/token."""
        assert self._server, "start() first"
        return self._server.url + TOKEN_PATH if self.config.token_endpoint else None

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None
        self.config.function.close()  # the function's environment is not the process's after the gateway
