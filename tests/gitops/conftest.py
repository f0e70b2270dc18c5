"""Fixtures for the GitOps tests: a fake GitHub API on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubdeploy.gitops.github import GitHubClient

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
