"""A fake Hugging Face Hub: the model_info API (with files metadata, card data, gated) and file downloads
(`/resolve/`) on 127.0.0.1, so the real HfApi and hf_hub_download code runs."""

from __future__ import annotations

import hashlib
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
    downloads: list[str] = field(default_factory=list)  # file names served by /resolve/

    def add(
        self,
        repo_id: str,
        sha: str,
        files: list[str],
        refs: tuple[str, ...] = ("main",),
        *,
        contents: dict[str, bytes] | None = None,
        lfs: tuple[str, ...] = (),
        card: dict | None = None,
        tags: list[str] | None = None,
        gated: str | bool = False,
    ) -> None:
        """A revision; with `contents`, model_info(files_metadata=True) lists sizes, blob ids and, for `lfs` names,
        LFS sha256 (as the Hub does), and /resolve/ serves the bytes."""
        repo = self.repos.setdefault(repo_id, {"refs": {}, "files": {}, "meta": {}})
        repo["files"][sha] = files
        repo["meta"][sha] = {"contents": contents or {}, "lfs": set(lfs), "card": card, "tags": tags, "gated": gated}
        for ref in refs:
            repo["refs"][ref] = sha


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def sibling(name: str, meta: dict, files_metadata: bool) -> dict:
    data = meta["contents"].get(name)
    if not files_metadata or data is None:
        return {"rfilename": name}
    entry: dict = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
    if name in meta["lfs"]:
        entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
    return entry


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

        def _resolve(self, path: str, *, body: bool) -> None:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            revision, name = rest.split("/", 1)
            repo = hub.repos.get(repo_id, {"refs": {}, "files": {}, "meta": {}})
            sha = repo["refs"].get(revision, revision)
            data = repo.get("meta", {}).get(sha, {}).get("contents", {}).get(unquote(name))
            if data is None:
                self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
                return
            self.send_response(200)
            self.send_header("X-Repo-Commit", sha)
            self.send_header("ETag", f'"{git_blob_id(data)}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                hub.downloads.append(unquote(name))
                self.wfile.write(data)

        def do_HEAD(self) -> None:
            hub.requests.append(self.path)
            self._resolve(urlparse(self.path).path, body=False)

        def do_GET(self) -> None:
            hub.requests.append(self.path)
            hub.authorizations.append(self.headers.get("Authorization"))
            if hub.status_override:
                self._send(hub.status_override, {"error": "boom"})
                return
            path = urlparse(self.path).path
            if "/resolve/" in path:
                self._resolve(path, body=True)
                return
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
            meta = repo.get("meta", {}).get(sha, {"contents": {}, "lfs": set(), "card": None, "tags": None})
            files_metadata = "blobs=true" in urlparse(self.path).query.lower()
            siblings = [sibling(name, meta, files_metadata) for name in repo["files"][sha]]
            info = {"id": repo_id, "modelId": repo_id, "sha": sha, "siblings": siblings, "private": False}
            if meta.get("card") is not None:
                info["cardData"] = meta["card"]
            if meta.get("tags") is not None:
                info["tags"] = meta["tags"]
            info["gated"] = meta.get("gated", False)
            self._send(200, info)

    return Handler
