"""Where a load test sends its requests and how it authenticates: a deployed env's API exactly as `hubdeploy
smoke` finds and authenticates to it (`gitops.smoke.deployed_target`, `gitops.auth`), or the stack `hubdeploy
local up` runs (its API and token endpoint on 127.0.0.1, as `hubdeploy local status` reports them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hubdeploy.errors import LocalStackError, UsageError
from hubdeploy.gitops.auth import Authorizer, authorizer_for
from hubdeploy.settings import Settings


@dataclass(frozen=True)
class LoadTarget:
    """POST {api_url}/sentiment with `authorizer`'s headers; `max_texts` is the API's limit when known."""

    env: str
    api_url: str
    mode: str
    authorizer: Authorizer = field(repr=False)
    max_texts: int | None = None

    @property
    def url(self) -> str:
        return f"{self.api_url}/sentiment"


def deployed_target(settings: Settings, env: str, outputs_json: Path | None = None) -> LoadTarget:
    """The deployed env's API (terraform outputs, HUBDEPLOY_SMOKE_API_URL, the auth mode), as smoke calls it."""
    from hubdeploy.gitops import smoke

    target = smoke.deployed_target(settings, env, outputs_json)
    return LoadTarget(
        env=env,
        api_url=target.api_url,
        mode=target.mode,
        authorizer=authorizer_for(target.access, settings),
        max_texts=target.max_texts,
    )


def local_target(settings: Settings, env: str) -> LoadTarget:
    """The local stack's API, with a token from its emulated user pool.

    Raises:
        LocalStackError: no stack runs in this checkout.
        UsageError: the stack runs another env.
    """
    from hubdeploy.local.access import client_settings, local_access
    from hubdeploy.local.layout import Paths
    from hubdeploy.local.processes import read_json
    from hubdeploy.local.status import status_of

    paths = Paths.of(settings.repo_root)
    status = status_of(settings, paths, with_token=False)
    if not status["running"]:
        problems = "; ".join(status["problems"]) or "nothing runs"
        raise LocalStackError(f"no local stack answers in {settings.repo_root} ({problems})", hint="hubdeploy local up")
    if status["env"] != env:
        raise UsageError(
            f"the local stack runs {status['env']}, not {env}",
            hint=f"--env {status['env']}, or: hubdeploy local up --env {env}",
        )
    state = read_json(paths.stack) or {}
    access = local_access(state)
    return LoadTarget(
        env=env,
        api_url=str(state["api_url"]),
        mode=access.mode,
        authorizer=authorizer_for(access, client_settings(settings, state)),
    )
