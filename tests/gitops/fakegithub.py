"""A fake GitHub REST API on 127.0.0.1 that records every request: comments, commit statuses, pull requests,
commit->PR, a run's environment approvals, issues, pagination with Link headers, and scripted failures
(403, 422, 429, 5xx).

Each request acts as the identity of its token: `tokens` maps a token to a login, any other token is
`default_login` (GITHUB_TOKEN's "github-actions[bot]"), so a comment or status written with
`MALLORY_TOKEN` is authored by "mallory", as a forged review record would be.

    with FakeGitHubServer(FakeGitHub(repository="acme/app")) as gh:
        gh.add_pull(5, head_sha="a" * 40, merge_commit="b" * 40)
        ... GITHUB_API_URL=gh.url ...
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer

BOT = "github-actions[bot]"
MALLORY_TOKEN = "mallory-token"  # another identity: what a forged review record is written with


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    login: str = BOT  # the identity the request acted as


@dataclass
class FakeGitHub:
    """State of the fake: comments per issue number, statuses per commit, PRs, approvals per run, issues,
    PRs per commit, queued failures."""

    page_size: int = 2
    repository: str = "o/r"
    default_login: str = BOT
    tokens: dict[str, str] = field(default_factory=lambda: {MALLORY_TOKEN: "mallory"})
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> oldest first
    approvals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # run id -> review history
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def login_of(self, token: str) -> str:
        return self.tokens.get(token, self.default_login)

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": self._next_id, "body": body, "user": {"login": user}}
        self.comments.setdefault(number, []).append(comment)
        return comment

    def add_status(
        self, sha: str, *, context: str, state: str, description: str = "", creator: str = BOT
    ) -> dict[str, Any]:
        self._next_id += 1
        status = {
            "id": self._next_id,
            "state": state,
            "context": context,
            "description": description,
            "target_url": None,
            "creator": {"login": creator},
        }
        self.statuses.setdefault(sha, []).append(status)
        return status

    def latest_status(self, sha: str, context: str) -> dict[str, Any] | None:
        """The newest status of `context` on `sha`, by anybody (what GitHub's UI shows)."""
        return next((s for s in reversed(self.statuses.get(sha, [])) if s["context"] == context), None)

    def add_pull(
        self, number: int, *, head_sha: str, merge_commit: str | None = None, merged: bool = True
    ) -> dict[str, Any]:
        """A PR with head commit `head_sha`; `merge_commit` (a commit on main) lists it as the PR it came from."""
        pull = {
            "number": number,
            "head": {"sha": head_sha},
            "merged_at": "2026-11-25T07:00:00Z" if merged else None,
            "merge_commit_sha": merge_commit,
        }
        self.pulls[number] = pull
        if merge_commit:
            self.commit_pulls[merge_commit] = [pull]
        return pull

    def approve(self, run_id: str | int, env: str, *, user: str = "reviewer", state: str = "approved") -> None:
        """A reviewer's decision on the run's deployment to `env` (the environment's required reviewers)."""
        self.approvals.setdefault(str(run_id), []).append(
            {"state": state, "user": {"login": user}, "environments": [{"id": 1, "name": env}], "comment": ""}
        )

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
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            login = state.login_of(token)
            with state._lock:
                state.requests.append(Recorded(method, self.path, body, dict(self.headers.items()), login))
                if state.failures:
                    status, headers, payload = state.failures.pop(0)
                    return self._send(status, payload, headers)
                return self._route(method, path, params, body, login)

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

        def _route(self, method: str, path: str, params: dict[str, str], body: Any, login: str) -> None:
            prefix = f"/repos/{state.repository}/"
            if not path.startswith(prefix):
                return self._send(404, {"message": "Not Found"})
            rest = path[len(prefix) :]
            if m := re.fullmatch(r"issues/(\d+)/comments", rest):
                number = int(m.group(1))
                if method == "GET":
                    return self._page(state.comments.get(number, []), path, params)
                comment = state.add_comment(number, body["body"], user=login)
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
            if m := re.fullmatch(r"commits/([^/]+)/statuses", rest):
                return self._page(list(reversed(state.statuses.get(m.group(1), []))), path, params)
            if (m := re.fullmatch(r"statuses/([0-9a-f]+)", rest)) and method == "POST":
                if body.get("state") not in {"error", "failure", "pending", "success"}:
                    return self._send(422, {"message": "Validation Failed", "errors": [{"message": "bad state"}]})
                if len(body.get("description") or "") > 140:
                    return self._send(
                        422, {"message": "Validation Failed", "errors": [{"message": "description is too long"}]}
                    )
                status = state.add_status(
                    m.group(1),
                    context=body.get("context") or "default",
                    state=body["state"],
                    description=body.get("description") or "",
                    creator=login,
                )
                status["target_url"] = body.get("target_url")
                return self._send(201, status)
            if m := re.fullmatch(r"pulls/(\d+)", rest):
                pull = state.pulls.get(int(m.group(1)))
                return self._send(200, pull) if pull else self._send(404, {"message": "Not Found"})
            if m := re.fullmatch(r"actions/runs/(\d+)/approvals", rest):
                return self._send(200, state.approvals.get(m.group(1), []))
            if rest == "issues":
                if method == "GET":
                    label = params.get("labels")
                    items = [i for i in state.issues if i["state"] == "open" and (not label or label in i["labels"])]
                    return self._page(items, path, params)
                state._next_id += 1
                issue = {"number": state._next_id, "state": "open", "user": {"login": login}, **body}
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

    def __init__(self, state: FakeGitHub | None = None) -> None:
        state = state if state is not None else FakeGitHub()
        super().__init__(state, make_handler(state))
