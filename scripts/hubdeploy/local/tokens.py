"""Cognito's OAuth2 token endpoint (client-credentials grant) for the emulated user pool.

moto implements the Cognito API and serves each pool's JWKS, but not the hosted domain's
`/oauth2/token`, which is how the deployed API's machine clients get tokens (see the inference-api
module). This endpoint checks the request against the pool client as the emulated control plane
describes it (secret, allowed flows, allowed scopes, token validity), then issues the access token
Cognito would, signed with the key moto signs that pool's tokens with; so the gateway verifies it
against the JWKS moto serves, exactly like a token from moto's own InitiateAuth.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from hubdeploy.errors import OAuthError

SECONDS_PER_UNIT = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _pool_signing_key() -> Any:
    """The RSA key moto signs every pool's tokens with (its JWKS advertises the public half, kid "dummy")."""
    from joserfc.jwk import RSAKey

    raw = (resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz").read_bytes()
    return RSAKey.import_key(json.loads(gzip.decompress(raw)))


@dataclass
class TokenEndpoint:
    """`/oauth2/token` of one user pool; `cognito` is a boto3 cognito-idp client on the emulator."""

    cognito: Any
    user_pool_id: str
    region: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def client_credentials(self, client_id: str, client_secret: str, scope: str | None = None) -> dict[str, Any]:
        """Issue an access token for a machine client; the token response Cognito returns.

        Raises:
            OAuthError: invalid_client (unknown client / wrong secret), unauthorized_client (the client
                may not use this grant), invalid_scope (a scope the client is not allowed).
        """
        from joserfc import jwt

        try:
            client = self.cognito.describe_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)[
                "UserPoolClient"
            ]
        except Exception:
            raise OAuthError("invalid_client", 401) from None
        if not client.get("ClientSecret") or client["ClientSecret"] != client_secret:
            raise OAuthError("invalid_client", 401)
        if not client.get("AllowedOAuthFlowsUserPoolClient") or "client_credentials" not in (
            client.get("AllowedOAuthFlows") or []
        ):
            raise OAuthError("unauthorized_client")
        allowed = list(client.get("AllowedOAuthScopes") or [])
        wanted = scope.split() if scope else allowed
        if not wanted or not set(wanted) <= set(allowed):
            raise OAuthError("invalid_scope")
        validity = int(client.get("AccessTokenValidity") or 60)
        unit = (client.get("TokenValidityUnits") or {}).get("AccessToken", "minutes")
        expires_in = validity * SECONDS_PER_UNIT.get(unit, 60)
        if not client.get("AccessTokenValidity"):
            expires_in = 3600  # Cognito's default: one hour
        now = int(time.time())
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(wanted),
            "auth_time": now,
            "iss": self.issuer,
            "exp": now + expires_in,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        token = jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, _pool_signing_key())
        return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}

    def handle_http(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """A token request as Cognito takes it: form body, client id/secret in Basic auth or the form."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        lower = {k.lower(): v for k, v in headers.items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = lower.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except ValueError:
                return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        try:
            return 200, self.client_credentials(client_id, secret, form.get("scope"))
        except OAuthError as exc:
            return exc.status, {"error": exc.error}
