"""How a client authenticates to an env's API, for every `auth.mode` the env root can output.

One function per mode turns the env root's `auth` output (plus the client secret) into an `Authorizer` that
adds headers to each request. `hubdeploy smoke` uses it against the deployed API; `hubdeploy local` uses the
same dispatch for the ready `curl` and `local status --json`'s auth header, against the local API.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubdeploy.errors import AuthError, UsageError
from hubdeploy.gitops import actions
from hubdeploy.settings import API_KEY_VAR, API_TOKEN_VAR, CLIENT_SECRET_VAR, Settings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_url(url: str, what: str) -> str:
    """`url` without a trailing slash when it is https (or http on loopback, for the local stack and tests)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url.rstrip("/")
    raise UsageError(f"{what} {url!r} is not an https URL", hint="check the env root's outputs")


@dataclass(frozen=True)
class ApiAccess:
    """What a client needs to authenticate: the env root's `auth` output and the machine client's secret."""

    env: str
    auth: Mapping[str, Any]
    client_secret: str | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return str(self.auth.get("mode") or "none")


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

    settings: Settings

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        from hubdeploy.infra import aws

        credentials = aws.session(self.settings).get_credentials()
        if credentials is None:
            raise AuthError("auth mode iam needs AWS credentials", hint="configure AWS credentials (OIDC in CI)")
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.settings.aws_region).add_auth(request)
        return dict(request.headers.items())


AuthFactory = Callable[[ApiAccess, Settings], Authorizer]
AUTH_MODES: dict[str, AuthFactory] = {}


def auth_mode(name: str) -> Callable[[AuthFactory], AuthFactory]:
    """Register how to authenticate for an `auth.mode` value."""

    def register(factory: AuthFactory) -> AuthFactory:
        AUTH_MODES[name] = factory
        return factory

    return register


@auth_mode("none")
def _none(access: ApiAccess, settings: Settings) -> Authorizer:
    return StaticHeaders()


@auth_mode("cognito")
def _cognito(access: ApiAccess, settings: Settings) -> Authorizer:
    """OAuth2 client-credentials token from the pool's domain (the machine client)."""
    token_url = access.auth.get("token_url")
    client_id = access.auth.get("client_id")
    secret = access.client_secret or settings.client_secret
    if not (token_url and client_id and secret):
        raise AuthError(
            f"{access.env}: auth mode cognito needs token_url, client_id and the client secret",
            hint=f"check the auth and client_secret outputs, or set {CLIENT_SECRET_VAR} / {API_TOKEN_VAR}",
        )
    actions.mask(settings, secret)
    form = {"grant_type": "client_credentials", "client_id": str(client_id)}
    if access.auth.get("scope"):
        form["scope"] = str(access.auth["scope"])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - https (or loopback in tests) checked above
        check_url(str(token_url), "auth.token_url"),
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            token = json.loads(resp.read())["access_token"]
    except urllib.error.HTTPError as exc:
        raise AuthError(
            f"{access.env}: the Cognito token endpoint refused the client-credentials request ({exc.code})",
            hint="check the machine client's id/secret and that it allows the client_credentials flow",
        ) from None
    except (urllib.error.URLError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise AuthError(f"{access.env}: no token from {token_url} ({exc})", hint="check auth.token_url") from None
    actions.mask(settings, token)
    return StaticHeaders({"Authorization": f"Bearer {token}"})


@auth_mode("api_key")
def _api_key(access: ApiAccess, settings: Settings) -> Authorizer:
    value = settings.api_key
    if not value:
        key_id = access.auth.get("api_key_id")
        if not key_id:
            raise AuthError(f"{access.env}: auth mode api_key but no api_key_id output", hint=f"set {API_KEY_VAR}")
        from hubdeploy.infra import aws

        with aws.aws_errors("read the API key (apigateway get-api-key)"):
            value = aws.client("apigateway", settings).get_api_key(apiKey=key_id, includeValue=True)["value"]
    actions.mask(settings, value)
    return StaticHeaders({"x-api-key": value})


@auth_mode("iam")
def _iam(access: ApiAccess, settings: Settings) -> Authorizer:
    return SigV4(settings)


def authorizer_for(access: ApiAccess, settings: Settings) -> Authorizer:
    """The authorizer for the API's auth mode; HUBDEPLOY_API_TOKEN overrides any mode."""
    token = settings.api_token
    if token:
        actions.mask(settings, token)
        return StaticHeaders({"Authorization": f"Bearer {token}"})
    factory = AUTH_MODES.get(access.mode)
    if factory is None:
        raise AuthError(
            f"{access.env}: unknown auth mode {access.mode!r}", hint=f"known modes: {', '.join(sorted(AUTH_MODES))}"
        )
    return factory(access, settings)
