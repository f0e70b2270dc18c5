"""A fake HTTP service on 127.0.0.1:<free port>, served from a thread for the length of a `with` block."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar

State = TypeVar("State")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 would make a burst of load-test users wait SYN retransmits


class LoopbackServer(Generic[State]):
    """Serve `handler` on loopback; entering yields `state`, whose `url` is set to the bound address."""

    def __init__(self, state: State, handler: type[BaseHTTPRequestHandler]) -> None:
        self.state = state
        self.server = _Server(("127.0.0.1", 0), handler)
        host, port = self.server.server_address[:2]
        state_any: Any = state
        state_any.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> State:
        self.thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
