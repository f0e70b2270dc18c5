"""The comment's model table shows licence, weights format and which files' sha256 changed, from the facts
recorded with the pins (the checkout's and its parent commit's), matched to the revisions the plan shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hubdeploy.artifacts.facts import ModelFacts, write_facts
from hubdeploy.artifacts.manifest import FileEntry
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID
from hubdeploy.gitops import supplychain
from hubdeploy.gitops.comment import model_table_md
from hubdeploy.gitops.plansummary import PlanSummary

pytestmark = pytest.mark.unit

OLD, NEW = "1" * 40, "2" * 40
TOKENIZER = [FileEntry("config.json", 10, "c" * 64), FileEntry("vocab.txt", 20, "v" * 64)]


def facts(revision: str, weights: FileEntry, licence: str | None = "apache-2.0") -> ModelFacts:
    return ModelFacts(DEFAULT_HUB_MODEL_ID, revision, licence=licence, gated="no", files=(*TOKENIZER, weights))


OLD_FACTS = facts(OLD, FileEntry("pytorch_model.bin", 30, "a" * 64))
NEW_FACTS = facts(NEW, FileEntry("model.safetensors", 30, "b" * 64), licence="mit")


def table(old: str, new: str) -> dict[str, tuple[str, str]]:
    return {"hub_model_id": (DEFAULT_HUB_MODEL_ID, DEFAULT_HUB_MODEL_ID), "hub_revision": (old, new)}


def test_a_revision_bump_shows_licence_weights_format_and_the_files_whose_sha256_changed() -> None:
    rows = supplychain.rows(table(OLD, NEW), [NEW_FACTS, OLD_FACTS])
    assert rows["licence"] == ("apache-2.0", "mit")
    assert rows["weights_format"] == ("converted from pytorch_model.bin (scan clean)", "safetensors")
    assert rows["files_changed"] == (
        f"model.safetensors -, pytorch_model.bin {'a' * 12}",
        f"model.safetensors {'b' * 12}, pytorch_model.bin -",
    )
    # and the comment shows them as rows of the model table, changed ones marked
    md = model_table_md(PlanSummary(model={**{k: ("x", "x") for k in ("artifact",)}, **table(OLD, NEW), **rows}))
    assert "| **Licence** ✏️ | `apache-2.0` | `mit` |" in md
    assert "| **Weights format** ✏️ | `converted from pytorch_model.bin (scan clean)` | `safetensors` |" in md
    assert "| **Files changed (sha256)** ✏️ |" in md


def test_an_unchanged_revision_says_unchanged_and_unknown_revisions_say_dash() -> None:
    same = supplychain.rows(table(NEW, NEW), [NEW_FACTS])
    assert same == {
        "licence": ("mit", "mit"),
        "weights_format": ("safetensors", "safetensors"),
        "files_changed": ("unchanged", "unchanged"),
    }
    # the deployed revision has no recorded facts (pinned before facts existed, or by hand): no guess
    unknown = supplychain.rows(table("3" * 40, NEW), [NEW_FACTS])
    assert unknown == {"licence": ("-", "mit"), "weights_format": ("-", "safetensors"), "files_changed": ("-", "-")}
    undeclared = supplychain.rows(
        table(OLD, OLD), [facts(OLD, FileEntry("model.safetensors", 1, "d" * 64), licence=None)]
    )
    assert undeclared["licence"] == ("none declared", "none declared")


def test_many_changed_files_are_counted_not_listed() -> None:
    many_old = ModelFacts(
        DEFAULT_HUB_MODEL_ID, OLD, "mit", "no", tuple(FileEntry(f"f{i}", 1, "0" * 64) for i in range(6))
    )
    many_new = ModelFacts(
        DEFAULT_HUB_MODEL_ID, NEW, "mit", "no", tuple(FileEntry(f"f{i}", 1, "1" * 64) for i in range(6))
    )
    before, after = supplychain.rows(table(OLD, NEW), [many_old, many_new])["files_changed"]
    assert before.endswith("(+2 more)") and after.count(",") == 3


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_the_parent_commits_facts_are_read_from_git(repo: Path) -> None:
    # given a checkout whose parent commit pinned OLD and whose head pins NEW
    git(repo, "init", "-q")
    write_facts(repo, "staging", OLD_FACTS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pin old")
    assert supplychain.base_facts(repo, "staging") is None  # no parent yet
    write_facts(repo, "staging", NEW_FACTS)
    git(repo, "commit", "-q", "-am", "pin new")
    # when the plan's facts are gathered, then both revisions are known
    known = supplychain.known_facts(repo, "staging")
    assert [f.hub_revision for f in known] == [NEW, OLD]
    # and a scratch copy that is no git checkout has only its own
    assert supplychain.base_facts(repo / "terraform", "staging") is None
