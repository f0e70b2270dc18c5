"""Preview's stand-ins: one per pin in its private HF cache, and a pin already there (the scratch copy's own, which
preview may have pinned to a stand-in's folder revision) is never installed again under another seed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin
from hubdeploy.local.previewmodels import evaluate_preview, in_cache, standin_installer
from hubdeploy.settings import Settings

pytestmark = pytest.mark.unit


def test_a_pin_in_the_cache_as_a_ref_or_a_commit_is_not_installed_again(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}\n")
    cache = tmp_path / "cache"
    revision = install_in_hf_cache(folder, cache, DEFAULT_HUB_MODEL_ID, refs=("main",))
    by_ref, by_commit = ModelPin(DEFAULT_HUB_MODEL_ID, "main"), ModelPin(DEFAULT_HUB_MODEL_ID, revision)
    assert in_cache(cache, by_ref) and in_cache(cache, by_commit)
    assert not in_cache(cache, ModelPin(DEFAULT_HUB_MODEL_ID, "standin-v2"))
    assert not in_cache(cache, ModelPin("someone/else", "main"))

    build_dir = tmp_path / "standins"
    install = standin_installer(cache, build_dir=build_dir, size="tiny")
    install(by_ref)
    install(by_commit)
    assert not build_dir.exists(), "nothing was trained or installed for pins the cache holds"


def test_preview_compares_with_main_else_head_and_skips_the_evaluation_outside_a_git_clone(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"HUBDEPLOY_ROOT": str(repo)})
    assert evaluate_preview(settings, settings, env="dev", base_ref=None, out=tmp_path / "a", prepare=None) is None
    assert "is not a git clone: no evaluation" in caplog.text
    # a clone whose branch is not called main (git's default is still master): its HEAD is the base
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q", "-b", "master"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *ident, *args], cwd=repo, check=True, capture_output=True)
    doc = evaluate_preview(settings, settings, env="dev", base_ref=None, out=tmp_path / "b", prepare=None)
    assert doc is not None and (doc["verdict"], doc["base"]["ref"]) == ("skipped", "HEAD")
