"""`hubdeploy evaluate` end to end on two tiny models in a git clone: each side built from its own checkout and
served by its own code/inference.py through the inference toolkit; its numbers checked against the committed
inference.py run directly on the same model; a failed gate fails the command after writing evaluation.json; a
change that touches no model skips without importing torch."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import hubdeploy
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.artifacts.training import read_sentences
from hubdeploy.cli import main
from hubdeploy.commands.evaluate import default_base_ref
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.settings import Settings

SENTENCES = "evaluation/sentences.jsonl"
# Appended to the head's inference.py: its predict_fn answers Positive, certain, whatever the text (the random
# tiny model mostly answers Negative, so most sentences flip).
ALWAYS_POSITIVE = textwrap.dedent(
    """
    def predict_fn(data, model):
        texts = data["inputs"]
        scores = [{"label": "Positive", "score": 1.0}, {"label": "Neutral", "score": 0.0},
                  {"label": "Negative", "score": 0.0}]
        return [{"label": "Positive", "score": 1.0, "scores": scores} for _ in texts]
    """
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True, capture_output=True
    )


@pytest.fixture
def clone(repo: Path, hf_cache: tuple[Path, str], tiny_model_dir_v2: Path) -> tuple[Path, str, str]:
    """A git clone (branch main) with dev pinned to the tiny model, whose v2 is in the offline cache too."""
    cache, v1 = hf_cache
    v2 = install_in_hf_cache(tiny_model_dir_v2, cache, DEFAULT_HUB_MODEL_ID, refs=())
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, v1))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dev pinned")
    return repo, v1, v2


@pytest.fixture(scope="module")
def committed_inference() -> Iterator[ModuleType]:
    """model/code/inference.py imported by path (not through the toolkit, no build): the reference predictions."""
    path = Path(__file__).resolve().parents[2] / "model" / "code" / "inference.py"
    name = "evaluation_reference_inference"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(name, None)


def reference(inference: ModuleType, model_dir: Path, texts: list[str]) -> list[dict[str, float]]:
    classifier = inference.model_fn(str(model_dir))
    probs = inference.classify(classifier, texts).tolist()
    return [dict(zip(classifier.labels, row, strict=True)) for row in probs]


def top(scores: dict[str, float]) -> str:
    return max(scores, key=lambda label: scores[label])


def evaluation_json(repo: Path) -> dict[str, Any]:
    return json.loads((repo / "plan" / "dev" / "evaluation.json").read_text())


@pytest.mark.model
def test_a_pin_change_is_evaluated_base_model_against_head_model_as_the_endpoint_serves_them(
    clone: tuple[Path, str, str],
    tiny_model_dir: Path,
    tiny_model_dir_v2: Path,
    committed_inference: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, v1, v2 = clone
    (repo / "model-gates.toml").write_text("[dev]\nmax_flips = 210\n")  # random tiny models: only flips are gated
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, v2))  # the PR: dev moves to v2

    outputs = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert main(["evaluate", "--needed"]) == 0
    assert step_outputs(outputs) == {"needed": "true"}
    assert "dev: to evaluate" in capsys.readouterr().out
    outputs.unlink()

    assert main(["evaluate", "--env", "dev"]) == 0

    doc = evaluation_json(repo)
    assert json.loads(step_outputs(outputs)["evaluation"]) == doc
    sentences = read_sentences(repo / SENTENCES)
    texts, gold = [s.text for s in sentences], [s.label for s in sentences]
    base_scores = reference(committed_inference, tiny_model_dir, texts)
    head_scores = reference(committed_inference, tiny_model_dir_v2, texts)
    assert (doc["schema"], doc["env"], doc["verdict"], doc["reason"]) == (1, "dev", "pass", None)
    assert (doc["base"]["ref"], doc["base"]["revision"], doc["head"]["revision"]) == ("main", v1, v2)
    assert doc["sentences"] == {
        "path": SENTENCES,
        "count": 210,
        "sha256": hashlib.sha256((repo / SENTENCES).read_bytes()).hexdigest(),
    }
    for name, scores in (("base", base_scores), ("head", head_scores)):
        right = sum(top(s) == g for s, g in zip(scores, gold, strict=True))
        assert doc[name]["accuracy"] == round(right / 210, 4), name
        assert doc[name]["latency_ms"]["batches"] == math.ceil(210 / 16)
    flipped = [i for i in range(210) if top(base_scores[i]) != top(head_scores[i])]
    assert doc["flips"]["count"] == len(flipped) > 0
    assert [f["text"] for f in doc["flips"]["shown"]] == [texts[i] for i in flipped[:10]]
    first = doc["flips"]["shown"][0]
    assert first["base_score"] == pytest.approx(max(base_scores[flipped[0]].values()), abs=1e-4)
    changes = [max(abs(h[k] - b[k]) for k in b) for b, h in zip(base_scores, head_scores, strict=True)]
    assert doc["score_change"]["max"] == pytest.approx(max(changes), abs=1e-4)
    assert doc["score_change"]["mean"] == pytest.approx(sum(changes) / 210, abs=1e-4)
    assert doc["gates"] == [
        {
            "name": "max_flips",
            "limit": 210,
            "value": len(flipped),
            "passed": True,
            "note": f"{len(flipped)} label flip(s), at most max_flips 210",
        }
    ]
    code = hashlib.sha256((repo / "model" / "code" / "inference.py").read_bytes()).hexdigest()
    assert doc["base"]["code_sha256"] == doc["head"]["code_sha256"] == code
    out = capsys.readouterr().out
    assert out.startswith("#### Evaluation ✅ pass")
    assert f"**Label flips:** {len(flipped)} of 210 sentences" in out
    # the artifact measured is the one `hubdeploy build` makes of the PR (byte-reproducible: the same size)
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "built")]) == 0
    assert doc["head"]["artifact_bytes"] == (tmp_path / "built" / "model.tar.gz").stat().st_size


@pytest.mark.model
def test_changed_serving_code_runs_each_sides_own_code_and_a_failed_gate_fails_after_writing_the_json(
    clone: tuple[Path, str, str],
    tiny_model_dir: Path,
    committed_inference: ModuleType,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _v1, _v2 = clone
    script = repo / "model" / "code" / "inference.py"
    script.write_text(script.read_text() + ALWAYS_POSITIVE)  # the PR changes only the serving code

    # the repo's own gates for dev: min_accuracy 0.4, max_accuracy_drop 0.2
    assert main(["evaluate", "--env", "dev", "--show-flips", "3"]) == 1

    err = capsys.readouterr().err
    doc = evaluation_json(repo)
    assert doc["verdict"] == "fail"
    gold = [s.label for s in read_sentences(repo / SENTENCES)]
    # head's code answers Positive for all 210 sentences, 70 of which are labelled Positive
    assert doc["head"]["accuracy"] == round(70 / 210, 4) == 0.3333
    assert doc["head"]["recall"] == {"Neutral": 0.0, "Positive": 1.0, "Negative": 0.0}
    assert "dev: accuracy 0.3333 is below min_accuracy 0.4 (model-gates.toml [dev])" in err
    assert doc["failures"][0] == "dev: accuracy 0.3333 is below min_accuracy 0.4 (model-gates.toml [dev])"
    # base ran the committed code on the same model
    base_scores = reference(committed_inference, tiny_model_dir, [s.text for s in read_sentences(repo / SENTENCES)])
    right = sum(top(s) == g for s, g in zip(base_scores, gold, strict=True))
    assert doc["base"]["accuracy"] == round(right / 210, 4)
    assert doc["flips"]["count"] == sum(top(s) != "Positive" for s in base_scores) > 3
    assert len(doc["flips"]["shown"]) == 3
    # head is certain: a sentence's score change is 1 - p_base(Positive)
    assert doc["score_change"]["max"] == pytest.approx(max(1 - s["Positive"] for s in base_scores), abs=1e-4)
    assert doc["score_change"]["mean"] == pytest.approx(sum(1 - s["Positive"] for s in base_scores) / 210, abs=1e-4)
    assert doc["base"]["code_sha256"] != doc["head"]["code_sha256"]
    assert doc["head"]["code_sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()


@pytest.mark.model
def test_an_evaluation_set_labelled_for_another_model_is_refused_naming_the_label(
    clone: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _v1, v2 = clone
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, v2))
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "Profit rose.", "label": "POSITIVE"}\n')
    assert main(["evaluate", "--env", "dev", "--sentences", str(other)]) == 1
    err = capsys.readouterr().err
    assert "label(s) POSITIVE are not labels of the head model (Neutral, Positive, Negative)" in err
    assert not (repo / "plan" / "dev" / "evaluation.json").exists()


SKIP_SCRIPT = """
import json, sys
from hubdeploy.cli import build_parser, main
build_parser()
codes = [main(["evaluate", "--needed"])]
codes += [main(["evaluate", "--env", env, "--out", f"out/{env}"]) for env in ("dev", "staging")]
print(json.dumps({"codes": codes, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


def step_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.unit
def test_a_change_that_touches_no_model_skips_without_importing_torch(clone: tuple[Path, str, str]) -> None:
    repo, _v1, _v2 = clone
    (repo / "lambda" / "README.md").write_text("docs only\n")  # a PR that changes no pin and nothing in model/
    # this hubdeploy (not whichever the venv installed), in a fresh interpreter: nothing imported before
    source = str(Path(hubdeploy.__file__).resolve().parents[1])
    outputs = repo / "github-output"
    environ = {**os.environ, "HUBDEPLOY_ROOT": str(repo), "PYTHONPATH": source, "GITHUB_OUTPUT": str(outputs)}
    proc = subprocess.run(
        [sys.executable, "-c", SKIP_SCRIPT], cwd=repo, env=environ, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"codes": [0, 0, 0], "heavy": []}
    assert "dev: skipped (no model or serving code change for dev)" in proc.stdout
    lines = outputs.read_text().splitlines()
    assert lines[0] == "needed=false"  # the CI job installs no torch
    # each env's document is also a one-line step output, for the plan job's comment
    assert [json.loads(line.split("=", 1)[1])["env"] for line in lines[1:]] == ["dev", "staging"]
    dev = json.loads((repo / "out" / "dev" / "evaluation.json").read_text())
    assert (dev["verdict"], dev["reason"]) == ("skipped", "no model or serving code change for dev")
    assert dev["base"]["revision"] == dev["head"]["revision"] and dev["head"]["accuracy"] is None
    staging = json.loads((repo / "out" / "staging" / "evaluation.json").read_text())
    assert (staging["verdict"], staging["reason"], staging["head"]) == (
        "skipped",
        "staging is not pinned: nothing to evaluate",
        None,
    )
    assert "#### Evaluation ⏭️ skipped: no model or serving code change for dev" in proc.stdout


@pytest.mark.unit
def test_the_base_is_the_pull_requests_base_commit_else_main_and_an_unknown_ref_is_a_clear_error(
    clone: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "base": {"sha": "f" * 40}, "head": {"sha": "e" * 40}}}))
    in_pr = Settings.from_env({"GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "pull_request"})
    assert default_base_ref(in_pr) == "f" * 40
    assert default_base_ref(Settings.from_env({"GITHUB_EVENT_NAME": "push"})) == "main"
    assert main(["evaluate", "--env", "dev", "--base-ref", "f" * 40]) == 1
    err = capsys.readouterr().err
    assert f"base ref '{'f' * 40}' is not a commit in this clone" in err and "git fetch origin" in err
    assert main(["evaluate", "--env", "dev", "--batch-size", "0"]) == 1
    assert "--batch-size 0 must be at least 1" in capsys.readouterr().err
