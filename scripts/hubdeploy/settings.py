"""Settings from the environment, read once at the entry point into a typed object.

Nothing else in hubdeploy reads `os.environ`: code that needs a setting takes `Settings`, and child
processes (terraform, the emulator, the local servers) get `Settings.environ`, so a caller that needs
another environment (the local stack against the emulator, `preview` on a scratch copy) builds other
Settings with `dataclasses.replace` instead of changing the process environment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

# Variables hubdeploy itself defines (the rest are AWS's, Hugging Face's, GitHub's and Terraform's own).
ROOT_VAR = "HUBDEPLOY_ROOT"  # the checkout to work on (default: the nearest parent holding terraform/envs)
STATE_BUCKET_VAR = "HUBDEPLOY_STATE_BUCKET"  # override the state bucket's name (a repository variable in CI)
ARTIFACT_BUCKET_VAR = "HUBDEPLOY_ARTIFACT_BUCKET"  # override the artifact bucket's name
TF_MIRROR_VAR = "HUBDEPLOY_TF_MIRROR"  # an offline provider mirror (read by infra.tfcli from Settings.environ)
API_TOKEN_VAR = "HUBDEPLOY_API_TOKEN"  # noqa: S105 - a variable name: a ready bearer token for smoke
CLIENT_SECRET_VAR = "HUBDEPLOY_CLIENT_SECRET"  # noqa: S105 - a variable name: the Cognito client secret
API_KEY_VAR = "HUBDEPLOY_API_KEY"  # the API key when the caller may not read it from API Gateway
LOCAL_MODEL_VAR = "HUBDEPLOY_LOCAL_MODEL"  # auto (default) | hub | standin: the local stack's model
STANDIN_SIZE_VAR = "HUBDEPLOY_STANDIN_SIZE"  # tiny | base: force a stand-in model of that size
DIGEST_RECORD_VAR = "HUBDEPLOY_DIGEST_RECORD"  # the digest record file (artifacts.digests), or "off"
LOCK_TIMEOUT_VAR = "HUBDEPLOY_LOCK_TIMEOUT"  # how long apply/destroy wait for the state lock (terraform duration)
BOT_LOGIN_VAR = "HUBDEPLOY_BOT_LOGIN"  # the login whose comments and statuses are the review record
VARS_JSON_VAR = "HUBDEPLOY_VARS"  # the workflow's `toJSON(vars)`: per-env AWS targets (hubdeploy target)
SMOKE_API_URL_VAR = "HUBDEPLOY_SMOKE_API_URL"  # smoke this URL instead of the api_url output (a proxy, a domain)

DEFAULT_LOCK_TIMEOUT = "10m"
# GITHUB_TOKEN's identity: what the workflow writes is authored by this login (a GitHub App token would be
# "<app-slug>[bot]": set HUBDEPLOY_BOT_LOGIN).
DEFAULT_BOT_LOGIN = "github-actions[bot]"

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
TRUE_WORDS = frozenset({"1", "true", "yes"})


def find_repo_root(start: Path | None = None, *, explicit: str | None = None) -> Path:
    """The folder that holds `terraform/envs`: `explicit` (HUBDEPLOY_ROOT), else the nearest parent of
    `start` (cwd), else the source tree this file lives in (an installed package used outside a checkout)."""
    if explicit:
        return Path(explicit).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "terraform" / "envs").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def hf_cache_dir_of(env: Mapping[str, str]) -> Path:
    """The HF hub cache folder, resolved the way huggingface_hub resolves it."""
    if cache := env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
        return Path(cache).expanduser()
    if home := env.get("HF_HOME"):
        return Path(home).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def digest_record_of(env: Mapping[str, str]) -> Path | None:
    """Where fetch and build remember input digests: HUBDEPLOY_DIGEST_RECORD ("off": nowhere), else the user's
    cache folder, next to the HF cache's default place."""
    value = (env.get(DIGEST_RECORD_VAR) or "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value).expanduser()
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "hubdeploy" / "digests.json"


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


@dataclass(frozen=True)
class Settings:
    """Everything hubdeploy reads from the environment."""

    repo_root: Path
    # The environment it was read from: what child processes (terraform, servers) inherit.
    environ: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # set for moto / the local stack; None means real AWS
    state_bucket: str | None = None  # HUBDEPLOY_STATE_BUCKET; None: the naming rule
    artifact_bucket: str | None = None  # HUBDEPLOY_ARTIFACT_BUCKET; None: the naming rule
    hf_token: str | None = field(default=None, repr=False)
    hf_offline: bool = False
    hf_endpoint: str = DEFAULT_HF_ENDPOINT  # HF_ENDPOINT: a mirror, or a test server
    hf_cache_dir: Path = field(default_factory=lambda: hf_cache_dir_of({}))
    digest_record: Path | None = None  # HUBDEPLOY_DIGEST_RECORD; None: every input file is hashed every time
    github_token: str | None = field(default=None, repr=False)
    github_repository: str | None = None  # owner/name
    github_api_url: str = "https://api.github.com"
    github_run_url: str | None = None
    github_output: Path | None = None  # GITHUB_OUTPUT: the step-outputs file
    github_step_summary: Path | None = None  # GITHUB_STEP_SUMMARY: the job-summary file
    github_event_path: Path | None = None  # GITHUB_EVENT_PATH: the triggering event's payload
    github_event_name: str | None = None  # GITHUB_EVENT_NAME: pull_request, merge_group, push, schedule, ...
    github_run_id: str | None = None  # GITHUB_RUN_ID: this run (its environment approvals)
    bot_login: str = DEFAULT_BOT_LOGIN  # HUBDEPLOY_BOT_LOGIN
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT  # HUBDEPLOY_LOCK_TIMEOUT
    github_vars_json: str | None = None  # HUBDEPLOY_VARS
    smoke_api_url: str | None = None  # HUBDEPLOY_SMOKE_API_URL
    git_commit: str | None = None
    in_github_actions: bool = False
    api_token: str | None = field(default=None, repr=False)  # HUBDEPLOY_API_TOKEN
    api_key: str | None = field(default=None, repr=False)  # HUBDEPLOY_API_KEY
    client_secret: str | None = field(default=None, repr=False)  # HUBDEPLOY_CLIENT_SECRET
    local_model: str = "auto"  # HUBDEPLOY_LOCAL_MODEL
    standin_size: str | None = None  # HUBDEPLOY_STANDIN_SIZE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
        """Read the process environment (or `environ`) once."""
        env = dict(os.environ if environ is None else environ)
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY") or None
        run_id = env.get("GITHUB_RUN_ID")
        return cls(
            repo_root=find_repo_root(cwd, explicit=env.get(ROOT_VAR)),
            environ=MappingProxyType(env),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            state_bucket=env.get(STATE_BUCKET_VAR) or None,
            artifact_bucket=env.get(ARTIFACT_BUCKET_VAR) or None,
            hf_token=env.get("HF_TOKEN") or None,
            hf_offline=env.get("HF_HUB_OFFLINE", "").lower() in TRUE_WORDS,
            hf_endpoint=(env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/"),
            hf_cache_dir=hf_cache_dir_of(env),
            digest_record=digest_record_of(env),
            github_token=env.get("GITHUB_TOKEN") or None,
            github_repository=repo,
            github_api_url=env.get("GITHUB_API_URL", "https://api.github.com"),
            github_run_url=f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None,
            github_output=_path(env.get("GITHUB_OUTPUT")),
            github_step_summary=_path(env.get("GITHUB_STEP_SUMMARY")),
            github_event_path=_path(env.get("GITHUB_EVENT_PATH")),
            github_event_name=env.get("GITHUB_EVENT_NAME") or None,
            github_run_id=run_id or None,
            bot_login=env.get(BOT_LOGIN_VAR) or DEFAULT_BOT_LOGIN,
            lock_timeout=env.get(LOCK_TIMEOUT_VAR) or DEFAULT_LOCK_TIMEOUT,
            github_vars_json=env.get(VARS_JSON_VAR) or None,
            smoke_api_url=(env.get(SMOKE_API_URL_VAR) or "").rstrip("/") or None,
            git_commit=env.get("GITHUB_SHA") or None,
            in_github_actions=env.get("GITHUB_ACTIONS") == "true",
            api_token=env.get(API_TOKEN_VAR) or None,
            api_key=env.get(API_KEY_VAR) or None,
            client_secret=env.get(CLIENT_SECRET_VAR) or None,
            local_model=(env.get(LOCAL_MODEL_VAR) or "auto").strip().lower(),
            standin_size=(env.get(STANDIN_SIZE_VAR) or "").strip().lower() or None,
        )

    def with_offline_cache(self, cache_dir: Path) -> Settings:
        """These settings serving models only from the HF cache `cache_dir` (a private one holding a stand-in),
        offline, for this process's Hub calls and every child's environment."""
        local = self.with_environ(HF_HUB_CACHE=str(cache_dir), HF_HUB_OFFLINE="1")
        return dataclasses.replace(local, hf_cache_dir=cache_dir, hf_offline=True)

    def with_environ(self, **values: str | None) -> Settings:
        """These settings with `values` set (None: removed) in the environment children inherit."""
        env = {k: v for k, v in self.environ.items() if k not in values or values[k] is not None}
        env.update({k: v for k, v in values.items() if v is not None})
        return dataclasses.replace(self, environ=MappingProxyType(env))
