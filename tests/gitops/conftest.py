"""Fixtures for the GitOps tests: a fake GitHub API on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.gitops.github import GitHubClient
from hubdeploy.infra import prices

from .fakegithub import FakeGitHub, FakeGitHubServer


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub for repository o/r; GITHUB_* variables point hubdeploy at it."""
    with FakeGitHubServer(FakeGitHub()) as state:
        monkeypatch.setenv("GITHUB_API_URL", state.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        yield state


@pytest.fixture
def sleeps() -> list[float]:
    """Waits a client asked for (recorded instead of slept)."""
    return []


@pytest.fixture
def client(fake_github: FakeGitHub, sleeps: list[float]) -> GitHubClient:
    return GitHubClient(token="test-token", repository="o/r", api_url=fake_github.url, sleep=sleeps.append)


@pytest.fixture(scope="session")
def real_plans(tmp_path_factory: pytest.TempPathFactory, repo_root):
    """name -> RealPlan, from a real apply + plans against the emulator (see realplans.py)."""
    from .realplans import make_plans

    return make_plans(tmp_path_factory.mktemp("gitops-plans"), repo_root)


# A price table of the tests' own, so that `hubdeploy prices refresh` changing the committed one breaks no test.
TEST_PRICES: dict[str, Any] = {
    "fetched_at": None,
    "hosting_per_hour": {"ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.t2.medium": 0.056},
    "hosting_source": "typed from the pricing page (test table)",
    "serverless_per_gb_second": 0.00002,
    "serverless_source": "typed from the pricing page (test table)",
    "serverless_verified": False,
    "typed_on": "2026-12-02",
    "verified": False,
}


@pytest.fixture
def price_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """The cost line reads TEST_PRICES as us-east-1's entry; call it with keys to override in that entry."""
    path = tmp_path / "prices" / "sagemaker.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def use(**entry: Any) -> None:
        regions = {"us-east-1": {**TEST_PRICES, **entry}}
        path.write_text(json.dumps({"currency": "USD", "service_code": "AmazonSageMaker", "regions": regions}))

    use()
    monkeypatch.setattr(prices, "default_table_path", lambda: path)
    return use
