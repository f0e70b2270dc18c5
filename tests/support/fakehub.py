"""A fake Hugging Face Hub: the model_info API on 127.0.0.1, so the real HfApi code runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlparse

# ---------------------------------------------------------------------------------------------------------------------
# A fake Hub: the model_info API of huggingface_hub, served on 127.0.0.1, so the real HfApi code runs.


@dataclass
class FakeHub:
    url: str = ""
    # repo id -> {"refs": {ref: sha}, "files": {sha: [names]}}
    repos: dict[str, dict] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    status_override: int | None = None

    def add(self, repo_id: str, sha: str, files: list[str], refs: tuple[str, ...] = ("main",)) -> None:
        repo = self.repos.setdefault(repo_id, {"refs": {}, "files": {}})
        repo["files"][sha] = files
        for ref in refs:
            repo["refs"][ref] = sha


def fake_hub_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            hub.requests.append(self.path)
            hub.authorizations.append(self.headers.get("Authorization"))
            if hub.status_override:
                self._send(hub.status_override, {"error": "boom"})
                return
            path = urlparse(self.path).path
            prefix = "/api/models/"
            if not path.startswith(prefix) or "/revision/" not in path:
                self._send(404, {"error": "not found"})
                return
            repo_id, revision = path[len(prefix) :].split("/revision/", 1)
            revision = unquote(revision)
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                return
            sha = repo["refs"].get(revision, revision if revision in repo["files"] else None)
            if sha is None:
                self._send(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
                return
            siblings = [{"rfilename": name} for name in repo["files"][sha]]
            self._send(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "siblings": siblings, "private": False})

    return Handler
