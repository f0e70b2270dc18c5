"""Fixtures for Terraform against the emulator: a scratch checkout pinned to the tiny model, buckets
from `hubdeploy bootstrap`, the one-time `terraform/account` applied (`hubdeploy.infra.accountroot`),
artifacts from `hubdeploy build` + `hubdeploy publish`, and the one root prepared per env by
`hubdeploy.infra.envroot` (a work copy with the generated emulator override)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from hubdeploy.artifacts.build import build
from hubdeploy.artifacts.publish import publish
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, artifacts_path, write_pin
from hubdeploy.infra import accountroot, envroot
from hubdeploy.infra.bootstrap import bootstrap
from hubdeploy.infra.emulator.process import Emulator
from hubdeploy.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass
class Stack:
    """A scratch checkout wired to the session emulator, with buckets bootstrapped."""

    repo: Path
    emulator: Emulator
    state_bucket: str
    artifact_bucket: str
    hf_cache: Path
    work: Path

    def settings(self) -> Settings:
        return Settings.from_env()

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.emulator.endpoint_url)

    def cache_model(self, model_dir: Path) -> str:
        """Put a model into the offline HF cache as a revision of the default model; returns its SHA."""
        return install_in_hf_cache(model_dir, self.hf_cache, DEFAULT_HUB_MODEL_ID)

    def pin(self, env: str, revision: str) -> None:
        write_pin(self.repo, env, ModelPin(DEFAULT_HUB_MODEL_ID, revision))

    def publish(self, env: str, *, commit: str = "0" * 40) -> dict[str, str]:
        """`hubdeploy build` + `hubdeploy publish` for env's pin (from `commit`); returns the artifacts tfvars."""
        settings = self.settings()
        out = self.work / "build" / env
        shutil.rmtree(out, ignore_errors=True)
        build(settings, env=env, out_dir=out)
        publish(settings, env=env, artifacts_dir=out, bucket=self.artifact_bucket, commit=commit)
        return json.loads(artifacts_path(self.repo, env).read_text())

    def root(self, env: str) -> envroot.EnvRoot:
        """The env root as a work copy pointed at the emulator, re-synced from the scratch checkout."""
        return envroot.prepare(
            self.repo, env, environ=os.environ, endpoint_url=self.emulator.endpoint_url, workdir=self.work / "tf"
        )


@pytest.fixture(scope="module")
def stack(
    emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[Stack]:
    """A fresh emulator (reset), a scratch checkout, the tiny model in an offline HF cache, buckets."""
    emulator_session.reset()
    work = tmp_path_factory.mktemp("tf-stack")
    repo = work / "repo"
    copy_checkout(REPO_ROOT, repo)
    cache = work / "hf-cache"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in emulator_session.aws_env(REGION).items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("HUBDEPLOY_ROOT", str(repo))
        mp.setenv("HF_HUB_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv("HF_TOKEN", raising=False)
        mp.delenv("GITHUB_ACTIONS", raising=False)
        result = bootstrap(Settings.from_env())
        # the account's one-time settings, as an administrator applies them before any environment
        accountroot.ensure(
            repo,
            environ=os.environ,
            endpoint_url=emulator_session.endpoint_url,
            workdir=work / "tf-account",
            state_bucket=result.state.name,
            region=REGION,
        )
        yield Stack(
            repo=repo,
            emulator=emulator_session,
            state_bucket=result.state.name,
            artifact_bucket=result.artifacts.name,
            hf_cache=cache,
            work=work,
        )
