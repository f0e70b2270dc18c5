"""Loopback HTTP servers on a background thread, with a clear error when the port is taken."""

from __future__ import annotations

import errno
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hubdeploy.errors import LocalStackError

LOOPBACK = "127.0.0.1"
log = logging.getLogger(__name__)


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler that logs through `logging` (at DEBUG) instead of printing to stderr."""

    protocol_version = "HTTP/1.1"
    server_version = "hubdeploy-local"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def read_body(self) -> bytes:
        """The request body (Content-Length framed; chunked uploads are not used by our clients)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send a complete response."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


class LoopbackServer(ThreadingHTTPServer):
    """socketserver's listen backlog is 5: a burst of clients (a load test's users connecting at once) would
    overflow it and wait a SYN retransmit (1 s, then 3 s) for no reason a real API Gateway has."""

    request_queue_size = 128


class BackgroundServer:
    """A ThreadingHTTPServer on 127.0.0.1 served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0, part: str) -> None:
        self.part = part
        try:
            self.httpd = LoopbackServer((LOOPBACK, port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LocalStackError(
                    f"{part}: port {port} on {LOOPBACK} is already in use",
                    hint=f"pick another port (0 = any free one) or stop the process holding {port} "
                    f"(`ss -ltnp 'sport = :{port}'`; if it is ours: hubdeploy local down)",
                ) from None
            raise
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=part, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        log.debug("%s listening on %s", self.part, self.url)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)
