"""A small GitHub REST client (stdlib urllib): sticky PR comments, commit statuses, the PR of a commit, a
workflow run's environment approvals, drift issues.

Every failure becomes a GitHubError saying what GitHub refused and what to do. Rate limits and 5xx are
retried a bounded number of times with bounded waits, so a job never hangs on GitHub.

The review record is what the workflow's own identity wrote: `find_comment` and `bot_status` ignore
comments and statuses by anybody else (`bot_login`), so a planted marker comment or a status set by
another token reviews nothing.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hubdeploy import __version__
from hubdeploy.errors import GitHubError, UsageError
from hubdeploy.gitops.githubresponse import header_number, hint_422, response_message
from hubdeploy.settings import DEFAULT_BOT_LOGIN, Settings

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: far beyond any real PR; stops a runaway Link loop
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
# GitHub's limit on a status description (a longer one is refused with 422).
STATUS_DESCRIPTION_LIMIT = 140
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})
PERMISSION_HINTS = {
    "comment": "give the job `permissions: pull-requests: write` (and `issues: write` for drift issues)",
    "issue": "give the job `permissions: issues: write`",
    "read": "give the job `permissions: contents: read` and `pull-requests: read`",
    "status": "give the job `permissions: statuses: write`",
    "statuses": "give the job `permissions: statuses: read`",
    "approvals": "give the job `permissions: actions: read` (a run's environment approvals)",
}


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any


class GitHubClient:
    """Calls api.github.com (or GITHUB_API_URL) for one repository."""

    def __init__(
        self,
        *,
        token: str,
        repository: str,
        api_url: str = "https://api.github.com",
        max_retries: int = 4,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        bot_login: str = DEFAULT_BOT_LOGIN,
    ) -> None:
        if not token:
            raise UsageError(
                "no GitHub token", hint="set GITHUB_TOKEN (in Actions: env: GITHUB_TOKEN: ${{ github.token }})"
            )
        if not repository or repository.count("/") != 1:
            raise UsageError(f"repository {repository!r} is not owner/name", hint="set GITHUB_REPOSITORY=owner/name")
        self.token = token
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.bot_login = bot_login  # whose comments and statuses are the review record

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GitHubClient:
        """A client from GITHUB_TOKEN / GITHUB_REPOSITORY / GITHUB_API_URL / HUBDEPLOY_BOT_LOGIN."""
        kwargs.setdefault("bot_login", settings.bot_login)
        return cls(
            token=settings.github_token or "",
            repository=settings.github_repository or "",
            api_url=settings.github_api_url,
            **kwargs,
        )

    # -- transport -------------------------------------------------------------------------------

    def _url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.api_url}{path}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        purpose: str = "read",
    ) -> Response:
        """One API call with bounded retries on rate limits, 5xx and network errors."""
        url = self._url(path, params)
        if not url.startswith(self.api_url):
            raise GitHubError(f"refusing to follow {url} outside {self.api_url}", hint="check GITHUB_API_URL")
        data = json.dumps(body).encode() if body is not None else None
        attempt = 0
        while True:
            attempt += 1
            req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) API URL only
            req.add_header("Authorization", f"Bearer {self.token}")
            req.add_header("Accept", "application/vnd.github+json")
            req.add_header("X-GitHub-Api-Version", API_VERSION)
            req.add_header("User-Agent", f"hubdeploy/{__version__}")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    raw = resp.read()
                    return Response(resp.status, dict(resp.headers.items()), json.loads(raw) if raw else None)
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                headers = dict(exc.headers.items()) if exc.headers else {}
                wait = self._retry_wait(exc.code, headers, raw, attempt)
                if wait is None:
                    raise self._error(method, url, exc.code, headers, raw, purpose) from None
                log.warning("GitHub answered %s to %s %s; retrying in %.0f s", exc.code, method, url, wait)
                self.sleep(wait)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt > self.max_retries:
                    raise GitHubError(
                        f"cannot reach GitHub at {self.api_url} ({getattr(exc, 'reason', exc)})",
                        hint="check the network and GITHUB_API_URL",
                    ) from None
                self.sleep(min(self.max_wait, 2.0**attempt))

    def _retry_wait(self, status: int, headers: Mapping[str, str], raw: bytes, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the error is final."""
        if attempt > self.max_retries:
            return None
        lower = {k.lower(): v for k, v in headers.items()}
        message = response_message(raw).lower()
        rate_limited = status == 429 or (
            status == 403
            and (lower.get("x-ratelimit-remaining") == "0" or "rate limit" in message or "retry-after" in lower)
        )
        if rate_limited:
            if "retry-after" in lower:
                wait = header_number(lower["retry-after"], default=60.0)
            elif lower.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lower:
                wait = header_number(lower["x-ratelimit-reset"], default=0.0) - time.time() + 1
            else:
                wait = 60.0 * attempt  # GitHub's advice for secondary limits without a header
            wait = max(1.0, wait)
            return wait if wait <= self.max_wait else None
        if status >= 500:
            return min(self.max_wait, 2.0**attempt + random.random())  # noqa: S311 - jitter, not crypto
        return None

    def _error(
        self, method: str, url: str, status: int, headers: Mapping[str, str], raw: bytes, purpose: str
    ) -> GitHubError:
        lower = {k.lower(): v for k, v in headers.items()}
        message = response_message(raw)
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        if status == 401:
            return GitHubError(f"GitHub rejected the token ({where}): {message}", hint="check GITHUB_TOKEN")
        if status == 429 or (
            status == 403 and ("rate limit" in message.lower() or lower.get("x-ratelimit-remaining") == "0")
        ):
            reset = lower.get("x-ratelimit-reset")
            when = f" (resets at epoch {reset})" if reset else ""
            return GitHubError(
                f"GitHub rate limit hit on {where}{when}: {message}",
                hint="wait and re-run the job; fewer parallel jobs help with secondary limits",
            )
        if status == 403:
            return GitHubError(
                f"GitHub refused {where} (403, missing permission): {message}",
                hint=PERMISSION_HINTS.get(purpose, PERMISSION_HINTS["read"])
                + "; on PRs from forks the token is read-only",
            )
        if status == 404:
            return GitHubError(
                f"GitHub has no {where} (404): {message}",
                hint=f"check the repository {self.repository} and the PR/issue number, and the token's access",
            )
        if status == 422:
            return GitHubError(f"GitHub rejected the request {where} (422): {message}", hint=hint_422(message))
        return GitHubError(f"GitHub failed {where} ({status}): {message}", hint="retry later; see githubstatus.com")

    def paginate(self, path: str, *, params: Mapping[str, Any] | None = None, purpose: str = "read") -> Iterator[Any]:
        """Every item of a list endpoint, following the Link rel="next" headers."""
        url: str | None = self._url(path, {"per_page": PER_PAGE, **(params or {})})
        for _page in range(MAX_PAGES):
            if url is None:
                return
            resp = self.request("GET", url, purpose=purpose)
            yield from resp.data or []
            link = {k.lower(): v for k, v in resp.headers.items()}.get("link", "")
            found = _NEXT.search(link)
            url = found.group(1) if found else None
        raise GitHubError(f"more than {MAX_PAGES} pages at {path}", hint="this is unexpected; report it")

    # -- sticky comments -----------------------------------------------------------------------

    @property
    def _repo(self) -> str:
        return f"/repos/{self.repository}"

    def _by_bot(self, item: Mapping[str, Any], who: str) -> bool:
        return str((item.get(who) or {}).get("login") or "") == self.bot_login

    def find_comment(self, number: int, marker: str) -> dict[str, Any] | None:
        """The (first) comment on PR/issue `number` written by `bot_login` whose body starts with `marker`.

        Anybody can comment on a PR: a comment by another user carrying the marker is ignored, never
        updated and never read as the review record.
        """
        for comment in self.paginate(f"{self._repo}/issues/{number}/comments", purpose="comment"):
            if _carries(comment.get("body"), marker) and self._by_bot(comment, "user"):
                return comment
        return None

    def upsert_comment(self, number: int, marker: str, body: str) -> tuple[str, dict[str, Any]]:
        """Update the comment holding `marker` in place, or create it. Returns ("created"|"updated", comment)."""
        if not _carries(body, marker):
            raise UsageError("the comment body does not start with its marker", hint="this is a bug: report it")
        existing = self.find_comment(number, marker)
        if existing:
            resp = self.request(
                "PATCH", f"{self._repo}/issues/comments/{existing['id']}", body={"body": body}, purpose="comment"
            )
            return "updated", resp.data
        resp = self.request("POST", f"{self._repo}/issues/{number}/comments", body={"body": body}, purpose="comment")
        return "created", resp.data

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self.request(
            "PATCH", f"{self._repo}/issues/comments/{comment_id}", body={"body": body}, purpose="comment"
        ).data

    def pull_for_commit(self, sha: str) -> dict[str, Any] | None:
        """The PR that a commit on the default branch came from (merged PRs first), or None.

        GET /repos/{repo}/commits/{sha}/pulls: "the merged pull request that introduced the commit", else
        the open ones holding it; each a pull request object with `number` and `head.sha`.
        https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit
        """
        pulls = self.request("GET", f"{self._repo}/commits/{sha}/pulls").data or []
        merged = [p for p in pulls if p.get("merged_at")]
        chosen: dict[str, Any] | None = (merged or pulls or [None])[0]
        return chosen

    def pr_for_commit(self, sha: str) -> int | None:
        """The number of the PR a commit on the default branch came from (merged PRs first), or None."""
        chosen = self.pull_for_commit(sha)
        return int(chosen["number"]) if chosen else None

    def pull(self, number: int) -> dict[str, Any]:
        """One pull request (`head.sha` is its head commit).

        GET /repos/{repo}/pulls/{number}; needs `pull-requests: read`.
        https://docs.github.com/rest/pulls/pulls#get-a-pull-request
        """
        data: dict[str, Any] = self.request("GET", f"{self._repo}/pulls/{number}").data or {}
        return data

    # -- commit statuses ---------------------------------------------------------------------------

    def create_status(
        self, sha: str, *, context: str, state: str, description: str, target_url: str | None = None
    ) -> dict[str, Any]:
        """Set the status `context` of commit `sha` (a new status; the latest per context is the one shown).

        POST /repos/{repo}/statuses/{sha}, state error|failure|pending|success, description at most 140
        characters; the token needs `statuses: write` (fine-grained: "Commit statuses" write).
        https://docs.github.com/rest/commits/statuses#create-a-commit-status
        """
        if state not in STATUS_STATES:
            raise UsageError(f"unknown commit status state {state!r}", hint=f"use one of {sorted(STATUS_STATES)}")
        if len(description) > STATUS_DESCRIPTION_LIMIT:
            description = description[: STATUS_DESCRIPTION_LIMIT - 1] + "…"
        body: dict[str, Any] = {"state": state, "context": context, "description": description}
        if target_url:
            body["target_url"] = target_url
        data: dict[str, Any] = self.request("POST", f"{self._repo}/statuses/{sha}", body=body, purpose="status").data
        return data

    def statuses(self, ref: str) -> Iterator[dict[str, Any]]:
        """Every status of `ref`, newest first, by anybody.

        GET /repos/{repo}/commits/{ref}/statuses: "returned in reverse chronological order. The first status
        in the list will be the latest one"; paginated; needs `statuses: read`.
        https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference
        """
        yield from self.paginate(f"{self._repo}/commits/{ref}/statuses", purpose="statuses")

    def bot_status(self, ref: str, context: str) -> dict[str, Any] | None:
        """The latest status `context` of `ref` created by `bot_login`, or None.

        Any token with `statuses: write` can set any context: a status by another creator is ignored.
        """
        for status in self.statuses(ref):
            if status.get("context") == context and self._by_bot(status, "creator"):
                return status
        return None

    # -- environment approvals ---------------------------------------------------------------------

    def run_approvals(self, run_id: str | int) -> list[dict[str, Any]]:
        """The deployment reviews of a workflow run: [{"state": "approved"|"rejected"|..., "user": {"login"},
        "environments": [{"name"}, ...], "comment"}].

        GET /repos/{repo}/actions/runs/{run_id}/approvals; needs `actions: read`.
        https://docs.github.com/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run
        """
        data = self.request("GET", f"{self._repo}/actions/runs/{run_id}/approvals", purpose="approvals").data
        return [item for item in data or [] if isinstance(item, dict)]

    # -- drift issues ----------------------------------------------------------------------------

    def find_issue(self, marker: str, *, label: str) -> dict[str, Any] | None:
        """The open issue carrying `label` whose body holds `marker` (pull requests excluded)."""
        for issue in self.paginate(f"{self._repo}/issues", params={"state": "open", "labels": label}, purpose="issue"):
            if "pull_request" not in issue and _carries(issue.get("body"), marker):
                return issue
        return None

    def upsert_issue(self, *, marker: str, title: str, body: str, label: str) -> tuple[str, dict[str, Any]]:
        """Open the issue holding `marker`, or update the open one. Returns ("created"|"updated", issue)."""
        if not _carries(body, marker):
            raise UsageError("the issue body does not start with its marker", hint="this is a bug: report it")
        existing = self.find_issue(marker, label=label)
        if existing:
            resp = self.request(
                "PATCH",
                f"{self._repo}/issues/{existing['number']}",
                body={"title": title, "body": body},
                purpose="issue",
            )
            return "updated", resp.data
        resp = self.request(
            "POST", f"{self._repo}/issues", body={"title": title, "body": body, "labels": [label]}, purpose="issue"
        )
        return "created", resp.data

    def close_issue(self, number: int, *, comment: str) -> None:
        """Comment on an issue, then close it."""
        self.request("POST", f"{self._repo}/issues/{number}/comments", body={"body": comment}, purpose="issue")
        self.request(
            "PATCH",
            f"{self._repo}/issues/{number}",
            body={"state": "closed", "state_reason": "completed"},
            purpose="issue",
        )


def _carries(body: str | None, marker: str) -> bool:
    """True when `body` starts with `marker`: a marker quoted further down (a plan that prints another
    env's marker, a human quoting one) must not make it someone else's comment."""
    return (body or "").lstrip().startswith(marker)
