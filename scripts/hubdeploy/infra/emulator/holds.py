"""Test control: hold an AWS operation, so a test can act while a client (terraform) waits on that call.

`POST /moto-api/hubdeploy/hold` with `{"target": "SageMaker.CreateEndpoint", "seconds": 120}`: from now on
every request whose `X-Amz-Target` header is that operation (JSON-protocol services: SageMaker, KMS,
Cognito, ...) waits on the server until
the hold is released (`POST` with `{}`, or `/moto-api/reset`) or `seconds` pass. It is then answered 400
`ValidationException` without reaching moto, so a client that gave up meanwhile (an interrupted apply)
leaves nothing half-created behind. `GET` returns `{"target": ..., "waiting": n, "held": total}`, so a test
knows the call is in flight without guessing with sleeps.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from hubdeploy.infra.emulator.patching import patch

CONTROL_PATH = "/moto-api/hubdeploy/hold"
MAX_SECONDS = 600.0  # a forgotten hold never blocks a server thread for longer


@dataclass
class Hold:
    """The operation held, how many requests wait now and were held in all."""

    target: str | None = None
    seconds: float = 0.0
    waiting: int = 0
    held: int = 0
    generation: int = 0  # bumped on every (re)set: waiting requests of an older hold are let go
    changed: threading.Condition = field(default_factory=threading.Condition)

    def report(self) -> dict[str, Any]:
        with self.changed:
            return {"target": self.target, "waiting": self.waiting, "held": self.held}

    def set(self, target: str | None, seconds: float) -> None:
        with self.changed:
            self.target = target or None
            self.seconds = min(max(seconds, 0.0), MAX_SECONDS)
            self.held = 0
            self.generation += 1
            self.changed.notify_all()

    def wait_if_held(self, target: str | None) -> bool:
        """Block a request for the held operation until released or timed out; True when it was held."""
        with self.changed:
            if not target or target != self.target:
                return False
            generation = self.generation
            deadline = time.monotonic() + self.seconds
            self.waiting += 1
            self.held += 1
            try:
                while self.generation == generation and (left := deadline - time.monotonic()) > 0:
                    self.changed.wait(left)
            finally:
                self.waiting -= 1
            return True


STATE = Hold()


def _respond(start_response: Any, status: str, body: dict[str, Any]) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def _control(environ: dict[str, Any]) -> dict[str, Any]:
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        STATE.set(body.get("target"), float(body.get("seconds") or 120))
    return STATE.report()


def install() -> None:
    """Hook holds into moto_server's dispatcher (the application lookup, which every request passes)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_application

    def get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            report = _control(environ)
            return lambda _environ, start_response: _respond(start_response, "200 OK", report)
        if path == "/moto-api/reset":
            STATE.set(None, 0)
        elif STATE.wait_if_held(environ.get("HTTP_X_AMZ_TARGET")):
            message = f"hubdeploy emulator: {environ.get('HTTP_X_AMZ_TARGET')} was held and dropped"
            error = {"__type": "ValidationException", "Message": message, "message": message}
            return lambda _environ, start_response: _respond(start_response, "400 Bad Request", error)
        return original(self, environ)

    patch(DomainDispatcherApplication, "get_application", get_application)
