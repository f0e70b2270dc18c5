"""Settings from the environment, read once at the entry point into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def find_repo_root(start: Path | None = None) -> Path:
    """The folder that holds `terraform/envs`: HUBDEPLOY_ROOT, else the nearest parent of `start` (cwd)."""
    env_root = os.environ.get("HUBDEPLOY_ROOT")
    if env_root:
        return Path(env_root).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "terraform" / "envs").is_dir():
            return candidate
    # Installed package used outside a checkout: fall back to the source tree this file lives in.
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Everything hubdeploy reads from the environment."""

    repo_root: Path
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # set for moto / the local stack; None means real AWS
    hf_token: str | None = None
    hf_offline: bool = False
    github_token: str | None = None
    github_repository: str | None = None  # owner/name
    github_api_url: str = "https://api.github.com"
    github_run_url: str | None = None
    git_commit: str | None = None
    in_github_actions: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the process environment (or `environ`) once."""
        env = os.environ if environ is None else environ
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY") or None
        run_id = env.get("GITHUB_RUN_ID")
        return cls(
            repo_root=find_repo_root(),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            hf_token=env.get("HF_TOKEN") or None,
            hf_offline=env.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"},
            github_token=env.get("GITHUB_TOKEN") or None,
            github_repository=repo,
            github_api_url=env.get("GITHUB_API_URL", "https://api.github.com"),
            github_run_url=f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None,
            git_commit=env.get("GITHUB_SHA") or None,
            in_github_actions=env.get("GITHUB_ACTIONS") == "true",
        )
