"""Fixtures shared by every test folder: tiny models in an offline HF cache, a scratch copy of the
repository with pins, a fake Hub, S3 in moto, and the AWS emulator."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from hubdeploy.artifacts.standin import build_standin_model, install_in_hf_cache
from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.infra.emulator.process import FAKE_CREDENTIALS, Emulator
from hubdeploy.local.toolkit import SERVER_ENV
from tests.support.aws import ARTIFACT_BUCKET
from tests.support.fakehub import FakeHub, fake_hub_handler

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def digest_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where fetch and build remember input digests during the tests (and their child processes): never the
    user's ~/.cache. Its entries are keyed by real paths, all inside each test's own tmp_path."""
    path = tmp_path_factory.mktemp("digest-record") / "digests.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUBDEPLOY_DIGEST_RECORD", str(path))
        yield path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The real checkout (read-only use)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with FinBERT-tone's labels and tokenizer (safetensors)."""
    return build_standin_model(tmp_path_factory.mktemp("tiny-model"), size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same shape as `tiny_model_dir`, other weights: a "new revision" of the model."""
    return build_standin_model(tmp_path_factory.mktemp("tiny-model-v2"), size="tiny", seed=1)


@pytest.fixture
def hf_cache(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """An offline HF cache holding the tiny model as `yiyanghkust/finbert-tone` (refs/main -> it).

    Returns (cache_dir, revision_sha). HF_HUB_OFFLINE=1 so the real snapshot_download path serves it.
    """
    cache = tmp_path / "hf-cache"
    revision = install_in_hf_cache(tiny_model_dir, cache, DEFAULT_HUB_MODEL_ID)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return cache, revision


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the checkout's terraform/, model/ and lambda/ that tests may change freely.

    HUBDEPLOY_ROOT points hubdeploy at it.
    """
    root = copy_checkout(REPO_ROOT, tmp_path / "repo")
    monkeypatch.setenv("HUBDEPLOY_ROOT", str(root))
    return root


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region, so nothing can reach a real account."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One moto_server (with our shims) on 127.0.0.1 for the session; always stopped at the end."""
    log_path = tmp_path_factory.mktemp("emulator") / "moto.log"
    with Emulator(log_path=log_path) as emu:
        yield emu


@pytest.fixture
def emulator(emulator_session: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The session emulator, reset to empty, with AWS_* variables pointing boto3 at it."""
    emulator_session.reset()
    for key, value in emulator_session.aws_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield emulator_session


@pytest.fixture
def pinned(repo: Path, hf_cache: tuple[Path, str]) -> str:
    """dev and staging pinned to the tiny model's commit in the offline cache; returns that SHA."""
    _, revision = hf_cache
    for env in ("dev", "staging"):
        write_pin(repo, env, ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    return revision


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """HF_ENDPOINT points at a local fake Hub; online mode; no token; a private HF cache (what it serves is
    downloaded there, never into the user's cache)."""
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake_hub_handler(hub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "fake-hub-cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def s3(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An in-process moto S3 with the default artifact bucket created; yields a boto3 client."""
    import boto3
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=ARTIFACT_BUCKET)
        yield client


# -- Markers match what tests do -------------------------------------------------------------------------------------
# A test that starts moto_server (a child process on 127.0.0.1) is not `unit`: it is marked `emulator`, or
# `terraform`/`e2e`, which run against one too. Checked at collection for the fixtures that start it, and when a test
# starts an Emulator any other way (directly, or through a command run in-process).
EMULATOR_FIXTURES = frozenset({"emulator_session", "emulator", "real_plans"})  # real_plans: tests/gitops/conftest.py
SERVER_MARKERS = ("emulator", "terraform", "e2e")
_running: list[pytest.Item] = []  # the test being set up, run or torn down


def _server_marker_problem(item: pytest.Item, starts: str) -> str | None:
    """Why `item`'s markers do not allow it to start moto_server, or None when they do."""
    marks = {mark.name for mark in item.iter_markers()}
    if "unit" in marks:
        return f"{item.nodeid}: marked unit but {starts}; mark it emulator instead of unit"
    if not marks.intersection(SERVER_MARKERS):
        return f"{item.nodeid}: {starts} but is marked none of {', '.join(SERVER_MARKERS)}; mark it emulator"
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything: every collected test is checked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    for item in items:
        used = sorted(EMULATOR_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if used and (problem := _server_marker_problem(item, f"uses {', '.join(used)} (starts moto_server)")):
            problems.append(problem)
    if problems:
        raise pytest.UsageError("markers do not match what these tests do:\n  " + "\n  ".join(problems))
    items[:] = longest_first(items)  # deselection (-m, -k) later keeps this order


# -- The longest files start first ------------------------------------------------------------------------------------
# `make test` hands whole files to two workers (--dist loadfile --no-loadscope-reorder) in collection order: a long
# file collected last keeps one worker busy while the other idles. These files (the longest in `--durations` of a
# fresh-clone run, longest first) are moved to the front; the rest keep their order. Tests inside a file never move.
LONGEST_FILES: tuple[str, ...] = (
    "tests/workflows/test_recovery_drift.py",
    "tests/workflows/test_gitops_loop.py",
    "tests/local/test_e2e.py",
    "tests/gitops/test_pipeline.py",
    "tests/infra/test_iam_proof.py",
    "tests/gitops/test_drift.py",
    "tests/gitops/test_plans.py",
    "tests/terraform/test_prod_lifecycle.py",
    "tests/terraform/test_dev_lifecycle.py",
)


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` with those of LONGEST_FILES first (in that order), every file's tests still together and in order."""
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    # sorted() is stable: items of the same rank (one file, or all the other files) keep their order
    return sorted(items, key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


def _clear_serving_settings() -> None:
    """Tests see the model's serving defaults: a shell that exports its tunables (HUBDEPLOY_PRECISION=int8, …, the
    quoted names in model/code/inference.py) must not change what a test loads; tests set them where they test them."""
    serving = set(re.findall(r'"(HUBDEPLOY_[A-Z_]+)"', (REPO_ROOT / "model" / "code" / "inference.py").read_text()))
    # and what a served model's container environment sets (local/toolkit.py), if a parent test process left it
    serving |= {"SAGEMAKER_PROGRAM", *SERVER_ENV}
    for name in serving:
        os.environ.pop(name, None)


def pytest_configure(config: pytest.Config) -> None:
    _clear_serving_settings()
    start = Emulator.start

    def start_where_marked(self: Emulator) -> Emulator:
        if _running and (problem := _server_marker_problem(_running[-1], "starts moto_server (Emulator.start)")):
            pytest.fail(problem, pytrace=False)
        return start(self)

    config.add_cleanup(lambda: setattr(Emulator, "start", start))
    Emulator.start = start_where_marked  # type: ignore[method-assign]
