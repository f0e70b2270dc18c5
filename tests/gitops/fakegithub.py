"""A fake GitHub REST API on 127.0.0.1 that records every request: comments, issues, commit->PR,
pagination with Link headers, and scripted failures (403, 422, 429, 5xx)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeGitHub:
    """State of the fake: comments per issue number, issues, PRs per commit, queued failures."""

    page_size: int = 2
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": self._next_id, "body": body, "user": {"login": user}}
        self.comments.setdefault(number, []).append(comment)
        return comment

    def fail_next(self, status: int, *, headers: dict[str, str] | None = None, message: str = "nope") -> None:
        self.failures.append((status, headers or {}, {"message": message}))

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]


def make_handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path, _, query = self.path.partition("?")
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            with state._lock:
                state.requests.append(Recorded(method, self.path, body, dict(self.headers.items())))
                if state.failures:
                    status, headers, payload = state.failures.pop(0)
                    return self._send(status, payload, headers)
                return self._route(method, path, params, body)

        def _page(self, items: list[Any], path: str, params: dict[str, str]) -> None:
            page = int(params.get("page", "1"))
            size = state.page_size
            chunk = items[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(items):
                rest = "&".join(f"{k}={v}" for k, v in params.items() if k != "page")
                headers["Link"] = (
                    f'<{state.url}{path}?{rest}&page={page + 1}>; rel="next", <{state.url}{path}>; rel="last"'
                )
            self._send(200, chunk, headers)

        def _route(self, method: str, path: str, params: dict[str, str], body: Any) -> None:
            if not path.startswith("/repos/o/r/"):
                return self._send(404, {"message": "Not Found"})
            rest = path[len("/repos/o/r/") :]
            if m := re.fullmatch(r"issues/(\d+)/comments", rest):
                number = int(m.group(1))
                if method == "GET":
                    return self._page(state.comments.get(number, []), path, params)
                comment = state.add_comment(number, body["body"], user="github-actions[bot]")
                return self._send(201, comment)
            if m := re.fullmatch(r"issues/comments/(\d+)", rest):
                for comments in state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(m.group(1)):
                            comment["body"] = body["body"]
                            return self._send(200, comment)
                return self._send(404, {"message": "Not Found"})
            if m := re.fullmatch(r"commits/([0-9a-f]+)/pulls", rest):
                return self._send(200, state.commit_pulls.get(m.group(1), []))
            if rest == "issues":
                if method == "GET":
                    label = params.get("labels")
                    items = [i for i in state.issues if i["state"] == "open" and (not label or label in i["labels"])]
                    return self._page(items, path, params)
                state._next_id += 1
                issue = {"number": state._next_id, "state": "open", **body}
                state.issues.append(issue)
                return self._send(201, issue)
            if m := re.fullmatch(r"issues/(\d+)", rest):
                for issue in state.issues:
                    if issue["number"] == int(m.group(1)):
                        issue.update(body)
                        return self._send(200, issue)
            return self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


class FakeGitHubServer(LoopbackServer[FakeGitHub]):
    """Context manager: serve a FakeGitHub on 127.0.0.1:<free port> in a thread."""

    def __init__(self, state: FakeGitHub) -> None:
        super().__init__(state, make_handler(state))
