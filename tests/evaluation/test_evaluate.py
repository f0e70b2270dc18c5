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
from hubdeploy.artifacts import standin, training
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
    # dev runs fp32: int8 is measured and shown, not gated (no min_int8_agreement among the gates above)
    int8 = doc["int8"]
    assert (int8["precision"], int8["gated"], int8["total"], int8["error"]) == ("fp32", False, 210, None)
    assert int8["agreement"] == round(int8["same"] / 210, 4) and int8["differ"]["count"] == 210 - int8["same"]
    out = capsys.readouterr().out
    assert out.startswith("#### Evaluation ✅ pass")
    assert 'dev runs fp32 (`precision = "fp32"` in `terraform/envs/dev/terraform.tfvars`): informative' in out
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


# int8 on a model whose answers mean something: the random tiny model's near-uniform scores make its top label a
# coin toss between ties (tests/model/test_precision.py, same recipe: top score ~0.6 on average).
TRAINED = training.Recipe(seed=3, epochs=10)
# Appended to the head's inference.py: the same answers in fp32, all Negative when loaded in int8.
NEGATIVE_IN_INT8 = textwrap.dedent(
    """
    import os as _os

    _fp32_predict_fn = predict_fn


    def predict_fn(data, model):
        answers = _fp32_predict_fn(data, model)
        if _os.environ.get("HUBDEPLOY_PRECISION") != "int8":
            return answers
        scores = [{"label": "Negative", "score": 1.0}, {"label": "Neutral", "score": 0.0},
                  {"label": "Positive", "score": 0.0}]
        return [{"label": "Negative", "score": 1.0, "scores": scores} for _ in answers]
    """
)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _ = standin.trained_model(tmp_path_factory.mktemp("trained"), TRAINED)
    return folder


@pytest.fixture
def trained_clone(repo: Path, hf_cache: tuple[Path, str], trained_dir: Path) -> Path:
    """A git clone (branch main) with dev pinned, in fp32, to the trained stand-in, gated on nothing but int8."""
    cache, _ = hf_cache
    revision = install_in_hf_cache(trained_dir, cache, DEFAULT_HUB_MODEL_ID, refs=())
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    (repo / "model-gates.toml").write_text("[dev]\n")  # the default min_int8_agreement only
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dev pinned to the trained stand-in")
    return repo


def select_int8(repo: Path) -> None:
    values = repo / "terraform" / "envs" / "dev" / "terraform.tfvars"
    text = values.read_text()
    assert 'precision = "fp32"' in text
    values.write_text(text.replace('precision = "fp32"', 'precision = "int8"'))


def by_request(inference: ModuleType, model_dir: Path, texts: list[str], precision: str) -> list[dict[str, float]]:
    """The committed inference.py's probabilities in `precision`, request by request as evaluate sends them (16
    texts: int8's activation scales are computed per batch, so the batches must be the same)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUBDEPLOY_PRECISION", precision)
        classifier = inference.model_fn(str(model_dir))
    rows = []
    for start in range(0, len(texts), 16):
        rows += inference.classify(classifier, texts[start : start + 16]).tolist()
    return [dict(zip(classifier.labels, row, strict=True)) for row in rows]


@pytest.mark.model
def test_a_pr_that_turns_int8_on_is_evaluated_and_passes_where_int8_agrees_with_fp32(
    trained_clone: Path,
    trained_dir: Path,
    committed_inference: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = trained_clone
    texts = [s.text for s in read_sentences(repo / SENTENCES)]
    fp32 = by_request(committed_inference, trained_dir, texts, "fp32")
    int8 = by_request(committed_inference, trained_dir, texts, "int8")
    same = sum(top(a) == top(b) for a, b in zip(fp32, int8, strict=True))
    differences = [max(abs(a[k] - b[k]) for k in a) for a, b in zip(fp32, int8, strict=True)]
    assert same >= 0.99 * 210 and max(differences) > 0, "int8 really ran, and agrees (tests/model/test_precision.py)"

    select_int8(repo)  # the PR changes nothing but dev's precision
    outputs = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert main(["evaluate", "--needed"]) == 0
    assert step_outputs(outputs) == {"needed": "true"}, "a precision change is evaluated like a model change"
    monkeypatch.delenv("HUBDEPLOY_PRECISION", raising=False)
    assert main(["evaluate", "--env", "dev"]) == 0
    # the int8 run's container environment is gone with it: it leaked into later tests of this process once
    assert "HUBDEPLOY_PRECISION" not in os.environ

    doc = evaluation_json(repo)
    assert doc["verdict"] == "pass"
    entry = doc["int8"]
    assert (entry["precision"], entry["gated"], entry["min_agreement"]) == ("int8", True, 0.99)
    assert (entry["same"], entry["total"], entry["agreement"]) == (same, 210, round(same / 210, 4))
    assert entry["score_difference"]["max"] == pytest.approx(max(differences), abs=1e-4)
    assert entry["score_difference"]["mean"] == pytest.approx(sum(differences) / 210, abs=1e-4)
    assert entry["setting"] == "terraform/envs/dev/terraform.tfvars"
    # the head's own numbers are fp32's, whatever the env runs: the same as the base's (same model, same code)
    assert doc["head"]["accuracy"] == doc["base"]["accuracy"] and doc["flips"]["count"] == 0
    (gate,) = doc["gates"]
    assert (gate["name"], gate["passed"], gate["limit"]) == ("min_int8_agreement", True, 0.99)
    assert gate["note"].startswith(f"int8 labels {same} of 210 sentences")
    out = capsys.readouterr().out
    assert f"same label on {same} of 210 sentences" in out
    assert 'dev runs int8 (`precision = "int8"` in `terraform/envs/dev/terraform.tfvars`): gated by' in out


@pytest.mark.model
def test_an_int8_env_whose_int8_answers_differ_fails_and_says_it_must_stay_fp32(
    trained_clone: Path,
    trained_dir: Path,
    committed_inference: ModuleType,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = trained_clone
    select_int8(repo)
    script = repo / "model" / "code" / "inference.py"
    script.write_text(script.read_text() + NEGATIVE_IN_INT8)  # the PR's code answers Negative when in int8

    assert main(["evaluate", "--env", "dev"]) == 1

    texts = [s.text for s in read_sentences(repo / SENTENCES)]
    negative = sum(top(s) == "Negative" for s in by_request(committed_inference, trained_dir, texts, "fp32"))
    assert 0 < negative < 200
    doc = evaluation_json(repo)
    assert doc["verdict"] == "fail"
    assert (doc["int8"]["same"], doc["int8"]["differ"]["count"]) == (negative, 210 - negative)
    message = (
        f"dev: int8 labels only {negative} of 210 sentences ({negative / 210:.4f}) as fp32 does, below "
        'min_int8_agreement 0.99 (the default): it must stay fp32: set precision = "fp32" in '
        "terraform/envs/dev/terraform.tfvars, or lower min_int8_agreement in model-gates.toml [dev] in a reviewed PR"
    )
    assert doc["failures"] == [message]
    assert message in capsys.readouterr().err
    shown = doc["int8"]["differ"]["shown"][0]
    assert shown["int8_label"] == "Negative" and shown["fp32_label"] != "Negative"
