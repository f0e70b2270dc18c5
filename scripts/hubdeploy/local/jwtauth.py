"""Verify Cognito user pool JWTs the way API Gateway's Cognito authorizer does.

Checks: RS256 signature against the pool's JWKS (fetched from `<endpoint>/<pool id>/.well-known/jwks.json`,
where moto serves it; refetched once for an unknown key id), issuer, expiry, `token_use`, the app client
(`aud` of an ID token / `client_id` of an access token) and, when the method requires scopes, the scope.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from hubdeploy.errors import TokenRejected

log = logging.getLogger(__name__)


@dataclass
class CognitoVerifier:
    """Verifier for one user pool.

    Attributes:
        issuer: `https://cognito-idp.<region>.amazonaws.com/<pool id>` (what the pool writes into `iss`).
        jwks_url: where the pool's public keys are served.
        client_ids: app clients whose tokens are accepted (empty: any client of the pool).
    """

    issuer: str
    jwks_url: str
    client_ids: frozenset[str] = frozenset()
    leeway_seconds: int = 0
    _keys: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _key_set(self, *, refresh: bool = False) -> Any:
        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is None or refresh:
                with urllib.request.urlopen(self.jwks_url, timeout=10) as resp:  # noqa: S310 - loopback emulator
                    self._keys = KeySet.import_key_set(json.loads(resp.read()))
            return self._keys

    def verify(self, token: str, *, scopes: tuple[str, ...] = (), now: float | None = None) -> dict[str, Any]:
        """Return the claims of a valid token.

        Args:
            token: the raw JWT (a leading "Bearer " is accepted and stripped).
            scopes: the method's authorization scopes; when set, an access token holding one is required,
                else an ID token is (API Gateway's Cognito authorizer rule).
            now: the clock (tests).

        Raises:
            TokenRejected: with the reason.
        """
        from joserfc import jwt
        from joserfc.errors import JoseError

        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if token.count(".") != 2:
            raise TokenRejected("not a JWT")
        try:
            try:
                decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
            except JoseError as exc:
                if "kid" not in str(exc).lower() and "key" not in str(exc).lower():
                    raise
                decoded = jwt.decode(token, self._key_set(refresh=True), algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise TokenRejected(f"bad signature or format ({type(exc).__name__})") from None
        except OSError as exc:
            raise TokenRejected(f"cannot fetch the user pool keys from {self.jwks_url}: {exc}") from None
        claims = dict(decoded.claims)
        if claims.get("iss") != self.issuer:
            raise TokenRejected("issued by another user pool")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp + self.leeway_seconds <= (now or time.time()):
            raise TokenRejected("expired")
        token_use = claims.get("token_use")
        wanted_use = "access" if scopes else "id"
        if token_use != wanted_use:
            raise TokenRejected(f"a {token_use} token where an {wanted_use} token is required")
        client = claims.get("client_id") if token_use == "access" else claims.get("aud")  # noqa: S105
        if self.client_ids and client not in self.client_ids:
            raise TokenRejected("issued to another app client")
        if scopes and not set(str(claims.get("scope", "")).split()) & set(scopes):
            raise TokenRejected("lacks the required scope")
        return claims
