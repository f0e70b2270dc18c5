"""A fake deployed API on 127.0.0.1: POST /dev/sentiment behind a bearer token, and a Cognito-like
POST /oauth2/token (client credentials). Behaviour switches let tests break it on purpose."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer

CLIENT_ID, CLIENT_SECRET, TOKEN = "machine-client", "machine-secret", "tok-123"


@dataclass
class FakeApi:
    labels: dict[str, str] = field(default_factory=dict)  # text -> label answered (default NEUTRAL)
    allow_anonymous: bool = False
    delay: float = 0.0
    broken: bool = False  # answer 502 like an API whose model is down
    cold_calls: int = 0  # answer 503 to this many authorized calls first, like a cold endpoint
    max_texts: int | None = None  # answer 400 too_many_texts above this, like the handler's MAX_TEXTS
    throttle_every: int = 0  # answer every n-th authorized call 429, like API Gateway over its stage limits
    token_requests: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeApi) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/oauth2/token":
                form = dict(urllib.parse.parse_qsl(body.decode()))
                state.token_requests.append(form)
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != expected or form.get("grant_type") != "client_credentials":
                    return self._send(400, {"error": "invalid_client"})
                return self._send(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
            if self.path != "/dev/sentiment":
                return self._send(404, {"message": "Not Found"})
            authorized = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            with lock:  # concurrent clients (load tests): each call gets its own place in the count
                state.calls.append({"authorized": authorized, "body": body})
                authorized_calls = sum(c["authorized"] for c in state.calls)
            if not authorized and not state.allow_anonymous:
                return self._send(401, {"message": "Unauthorized"})
            time.sleep(state.delay)
            if state.throttle_every and authorized_calls % state.throttle_every == 0:
                return self._send(429, {"message": "Too Many Requests"})
            if state.cold_calls > 0:
                state.cold_calls -= 1
                return self._send(503, {"error": "endpoint is warming up"})
            if state.broken:
                return self._send(502, {"error": "model error"})
            texts = json.loads(body)["texts"]
            if state.max_texts is not None and len(texts) > state.max_texts:
                return self._send(400, {"error": "too_many_texts", "message": f"at most {state.max_texts} texts"})
            data = [{"label": state.labels.get(t, "NEUTRAL"), "score": 0.91} for t in texts]
            return self._send(200, {"data": data, "request_id": "req-1"})

    return Handler


class FakeApiServer(LoopbackServer[FakeApi]):
    def __init__(self, state: FakeApi) -> None:
        super().__init__(state, _handler(state))
