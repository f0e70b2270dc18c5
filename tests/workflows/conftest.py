"""One "GitHub world" per test module: a scenario repository (a git copy of this checkout with the workflows
translated for act), the AWS emulator bootstrapped like a fresh account, the fake GitHub API, a fake deployed
API for the smoke test, and act wired to all of them. Scenarios in a module run in order and share the world,
as pushes and merges on one repository do."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.artifacts.facts import ModelFacts, write_facts
from hubdeploy.artifacts.hub import revision_facts
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.gitops.smoke import load_golden
from hubdeploy.infra import accountroot, aws
from hubdeploy.infra.emulator.override import EMULATED_ACCOUNT_ID
from hubdeploy.infra.emulator.process import Emulator, aws_environ
from hubdeploy.infra.naming import artifact_bucket_name, state_bucket_name
from hubdeploy.settings import Settings
from tests.gitops.fakeapi import TOKEN, FakeApi, FakeApiServer
from tests.gitops.fakegithub import FakeGitHub, FakeGitHubServer

from .act import Act, ActRun, translate_workflows

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "o/r"
REGION = "us-east-1"
SCENARIO_LICENCE = "apache-2.0"  # what this scenario's Hub declares for the stand-in revisions
# The scenario's model-gates.toml: the repository's licence lists, and an accuracy floor the scenario's random
# tiny models pass (each answers one label for every sentence: 70 of 210 right, 0.333), so the evaluate job runs
# for real in every scenario and the flow goes on; a scenario that tightens it sees the gate fail the PR.
SCENARIO_MIN_ACCURACY = 0.3
PLAN_ROLE = f"arn:aws:iam::{EMULATED_ACCOUNT_ID}:role/hubdeploy-github-plan"
APPLY_ROLE = f"arn:aws:iam::{EMULATED_ACCOUNT_ID}:role/hubdeploy-github-apply"
# prod has its own apply role (in a real fork: its own account): the per-env variable wins over the shared one
PROD_APPLY_ROLE = f"arn:aws:iam::{EMULATED_ACCOUNT_ID}:role/hubdeploy-github-apply-prod"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com"}
    env.update(GIT_COMMITTER_NAME="dev", GIT_COMMITTER_EMAIL="dev@example.com")
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def commit_of(event: str, payload: dict[str, Any]) -> str:
    """The commit a run of `event` checks out: the PR's head (act cannot build GitHub's temporary merge commit),
    the merge queue's tested commit, the pushed commit, or main for the rest (schedule, workflow_dispatch)."""
    if event == "pull_request":
        return str(payload["pull_request"]["head"]["sha"])
    if event == "merge_group":
        return str(payload["merge_group"]["head_sha"])
    if event == "push":
        return str(payload["after"])
    return "main"


@dataclass
class World:
    repo: Path
    work: Path
    act: Act
    github: FakeGitHub
    api: FakeApi
    emulator: Emulator
    revisions: tuple[str, str]  # the two model revisions in the offline HF cache
    next_pr: int = 1
    prs: dict[int, dict[str, str]] = field(default_factory=dict)
    hf_cache: Path | None = None  # the offline HF cache the revisions are in

    # -- git + GitHub, as a user's clicks would make them ------------------------------------------

    def open_pr(self, change: dict[str, str | ModelPin], *, title: str) -> tuple[int, str]:
        """A branch off main with `change` (path -> text, or env -> ModelPin) committed; returns (number, head)."""
        number, self.next_pr = self.next_pr, self.next_pr + 1
        git(self.repo, "checkout", "-q", "-b", f"pr-{number}", "main")
        for target, value in change.items():
            if isinstance(value, ModelPin):
                write_pin(self.repo, target, value)
                write_facts(self.repo, target, self.facts(value))
            else:
                (self.repo / target).write_text(value)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", title)
        head = git(self.repo, "rev-parse", "HEAD")
        self.prs[number] = {"head": head, "branch": f"pr-{number}"}
        return number, head

    def facts(self, pin: ModelPin) -> ModelFacts:
        """What `hubdeploy pin` records offline for the stand-in, with the licence this scenario's Hub declares
        (the cached stand-ins have no model card): staging and prod then pass model-gates.toml."""
        environ = {**os.environ, "HF_HUB_CACHE": str(self.hf_cache), "HF_HUB_OFFLINE": "1"}
        settings = Settings.from_env(environ, cwd=self.repo)
        recorded = revision_facts(pin.hub_model_id, pin.hub_revision, settings=settings)
        return dataclasses.replace(recorded, licence=SCENARIO_LICENCE)

    def pr_event(self, number: int, *, fork: bool = False) -> dict[str, Any]:
        head = self.prs[number]["head"]
        return {
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number,
                "head": {
                    "sha": head,
                    "ref": self.prs[number]["branch"],
                    "repo": {"full_name": "someone/fork" if fork else REPOSITORY},
                },
                "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
            },
            "repository": {"full_name": REPOSITORY},
        }

    def merge(self, number: int) -> tuple[str, dict[str, Any]]:
        """Merge the PR into main (a merge commit); the fake GitHub lists the PR for that commit. Returns
        (merge commit, push event)."""
        git(self.repo, "checkout", "-q", "main")
        git(self.repo, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number}", self.prs[number]["branch"])
        merged = git(self.repo, "rev-parse", "HEAD")
        self.github.add_pull(number, head_sha=self.prs[number]["head"], merge_commit=merged)
        return merged, self.push_event(merged)

    def push_event(self, sha: str) -> dict[str, Any]:
        return {
            "ref": "refs/heads/main",
            "after": sha,
            "head_commit": {"id": sha},
            "repository": {"full_name": REPOSITORY},
        }

    def run(self, event: str, payload: dict[str, Any], *, workflow: str) -> ActRun:
        """Run `workflow` for `event` on the commit GitHub would check out for it (act runs the working tree)."""
        git(self.repo, "checkout", "-q", "--detach", commit_of(event, payload))
        try:
            return self.act.run(event, payload, workflow=workflow)
        finally:
            git(self.repo, "checkout", "-q", "main")

    def comment(self, number: int, env: str, workflow: str = "pr") -> str:
        """The body of the bot's sticky comment for `env` on PR `number`."""
        mark = f"<!-- hubdeploy:plan env={env} workflow={workflow} -->"
        bodies = [c["body"] for c in self.github.comments.get(number, []) if c["body"].startswith(mark)]
        assert len(bodies) == 1, f"PR #{number} has {len(bodies)} {env}/{workflow} comments"
        return bodies[0]

    def settings(self) -> Settings:
        return Settings.from_env({**os.environ, **aws_environ(self.emulator.endpoint_url, REGION)}, cwd=self.repo)

    def s3_keys(self, bucket: str) -> list[str]:
        s3 = aws.client("s3", self.settings())
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    @property
    def state_bucket(self) -> str:
        return state_bucket_name(self.settings(), EMULATED_ACCOUNT_ID)

    @property
    def artifact_bucket(self) -> str:
        return artifact_bucket_name(self.settings(), EMULATED_ACCOUNT_ID)


def scenario_gates(min_accuracy: float) -> str:
    """A model-gates.toml with the repository's licence lists and `min_accuracy` for every env."""
    licences = '["apache-2.0", "mit", "bsd-3-clause"]'
    tables = [f"[{env}]\nmin_accuracy = {min_accuracy}\n" for env in ("dev", "staging", "prod")]
    tables[1:] = [f"{t}licences = {licences}\n" for t in tables[1:]]
    return "# the workflow scenarios' gates (tests/workflows/conftest.py)\n\n" + "\n".join(tables)


def scenario_copy(source: Path, dest: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored; working-tree content), tests/ aside."""
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        src = source / name
        if name.startswith("tests/") or not src.is_file():
            continue  # deleted in the working tree, or the tests themselves
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def world(
    emulator_session: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model_dir: Path,
    tiny_model_dir_v2: Path,
) -> Iterator[World]:
    emulator_session.reset()
    work = tmp_path_factory.mktemp("workflows")
    repo = scenario_copy(REPO_ROOT, work / "repo")
    translate_workflows(repo)
    # nothing pinned on main yet: the first PR pins
    for env in ("dev", "staging", "prod"):
        (repo / "terraform" / "envs" / env / "model.auto.tfvars.json").write_text(
            '{\n  "hub_model_id": "yiyanghkust/finbert-tone",\n  "hub_revision": null\n}\n'
        )
    (repo / "model-gates.toml").write_text(scenario_gates(SCENARIO_MIN_ACCURACY))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    cache = work / "hf-cache"
    revisions = (
        install_in_hf_cache(tiny_model_dir, cache, DEFAULT_HUB_MODEL_ID),
        install_in_hf_cache(tiny_model_dir_v2, cache, DEFAULT_HUB_MODEL_ID),
    )
    golden, _labels = load_golden()
    # the account's one-time set-up, as the README's "Before your first deploy" does it
    admin = {**os.environ, **aws_environ(emulator_session.endpoint_url, REGION), "HUBDEPLOY_ROOT": str(repo)}
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith(("GITHUB_", "HUBDEPLOY_"))]:
            mp.delenv(key)
        for key, value in admin.items():
            mp.setenv(key, value)
        assert main(["bootstrap", "--env", "dev"]) == 0
        settings = Settings.from_env()
        accountroot.ensure(
            repo,
            environ=settings.environ,
            endpoint_url=emulator_session.endpoint_url,
            workdir=work / "tf-account",
            state_bucket=state_bucket_name(settings, EMULATED_ACCOUNT_ID),
            region=REGION,
        )
    with (
        FakeGitHubServer(FakeGitHub(repository=REPOSITORY)) as github,
        FakeApiServer(FakeApi(labels={g.text: g.label for g in golden})) as api,
    ):
        act = Act(
            repo=repo,
            work=work,
            env={
                "HUBDEPLOY_ACT_VENV": str(Path(sys.executable).parent.parent),
                "HUBDEPLOY_ACT_AWS_ENDPOINT": emulator_session.endpoint_url,
                "GITHUB_API_URL": github.url,
                "HF_HUB_CACHE": str(cache),
                "HF_HUB_OFFLINE": "1",
                "HUBDEPLOY_SMOKE_API_URL": f"{api.url}/dev",
                "HUBDEPLOY_API_TOKEN": TOKEN,
                "HUBDEPLOY_LOCK_TIMEOUT": "20s",
                "PATH": os.environ["PATH"],
            },
            variables={
                "AWS_REGION": REGION,
                "AWS_ACCOUNT_ID": EMULATED_ACCOUNT_ID,
                "AWS_PLAN_ROLE_ARN": PLAN_ROLE,
                "AWS_APPLY_ROLE_ARN": APPLY_ROLE,
                "PROD_AWS_APPLY_ROLE_ARN": PROD_APPLY_ROLE,
            },
        )
        yield World(
            repo=repo,
            work=work,
            act=act,
            github=github,
            api=api,
            emulator=emulator_session,
            revisions=revisions,
            hf_cache=cache,
        )
