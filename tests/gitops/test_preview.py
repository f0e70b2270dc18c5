"""`hubdeploy preview`: the PR pipeline for one env against a private emulator prints the comment the
PR would get, and leaves the checkout untouched."""

from __future__ import annotations

import pytest

from hubdeploy.cli import main

pytestmark = pytest.mark.terraform


def test_preview_prints_the_pr_comment_for_staging_without_touching_the_checkout(
    repo_root, tmp_path, monkeypatch, capsys
):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "HUBDEPLOY_ROOT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(repo_root)
    env_dir = repo_root / "terraform" / "envs" / "staging"
    pin_file = env_dir / "model.auto.tfvars.json"
    before = pin_file.read_text()
    files_before = sorted(p.name for p in env_dir.iterdir())
    root_dir = repo_root / "terraform" / "root"
    root_before = sorted(p.name for p in root_dir.iterdir())

    assert main(["preview", "--env", "staging", "--workdir", str(tmp_path / "preview")]) == 0

    out = capsys.readouterr()
    assert out.out.startswith("<!-- hubdeploy:plan env=staging workflow=pr -->")
    assert "**Plan:** " in out.out and " to add, 0 to change, 0 to replace, 0 to destroy" in out.out
    assert "| **Revision** ✏️ | - |" in out.out  # a first deploy: no old revision
    assert "UNTRAINED STAND-IN MODEL" in out.err
    assert pin_file.read_text() == before
    assert sorted(p.name for p in env_dir.iterdir()) == files_before  # no tfvars, override, .terraform added
    assert sorted(p.name for p in root_dir.iterdir()) == root_before  # the one root: no override, no plan
