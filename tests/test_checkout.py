"""Scratch copies must carry the code and pins, never the real tree's state, plans or publish output."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubdeploy.checkout import copy_checkout

pytestmark = pytest.mark.unit


def make_checkout(root: Path) -> Path:
    env = root / "terraform" / "envs" / "dev"
    env.mkdir(parents=True)
    (env / "main.tf").write_text("# root\n")
    (env / "model.auto.tfvars.json").write_text("{}\n")
    for generated in ("artifacts.auto.tfvars.json", "terraform.tfstate", "emulator_override.tf", "x.tfplan"):
        (env / generated).write_text("generated\n")
    (env / ".terraform").mkdir()
    (env / ".terraform" / "providers").write_text("big\n")
    (root / "model" / "code").mkdir(parents=True)
    (root / "model" / "code" / "inference.py").write_text("# serving\n")
    (root / "lambda").mkdir()
    (root / "lambda" / "handler.py").write_text("# api\n")
    return root


def test_copies_code_and_pins_but_no_state_plans_overrides_or_artifacts(tmp_path: Path):
    src = make_checkout(tmp_path / "src")
    dest = copy_checkout(src, tmp_path / "dest")
    env = dest / "terraform" / "envs" / "dev"
    assert sorted(p.name for p in env.iterdir()) == ["main.tf", "model.auto.tfvars.json"]
    assert (dest / "model" / "code" / "inference.py").read_text() == "# serving\n"
    assert (dest / "lambda" / "handler.py").exists()


def test_a_second_copy_replaces_what_the_first_left(tmp_path: Path):
    src = make_checkout(tmp_path / "src")
    dest = copy_checkout(src, tmp_path / "dest")
    (dest / "lambda" / "stale.py").write_text("old\n")
    (src / "lambda" / "handler.py").write_text("# api v2\n")
    copy_checkout(src, dest)
    assert not (dest / "lambda" / "stale.py").exists()
    assert (dest / "lambda" / "handler.py").read_text() == "# api v2\n"
