"""The inference benchmark, run small (tiny model, a dozen sentences, two rounds): it times the seed, fp32 and int8
sides, checks that fp32 answers exactly as the seed does (and refuses to report a speed-up when it does not),
compares int8's labels with fp32's, and turns all of it into the entries `make bench` writes. Tested, not timed:
no assertion on the numbers themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import cost
from bench import inference as bench_inference
from bench.outputs import OutputMismatch, compare, require_same
from bench.results import save
from bench.standin import trained_base_standin
from hubdeploy.artifacts import training
from hubdeploy.errors import ArtifactError

pytestmark = pytest.mark.model

SMALL = {"n_sentences": 12, "request_size": 5, "rounds": 2, "latency_runs": 2, "peak_size": 64}
ENTRIES = {
    "inference_speedup_vs_seed_handler",
    "inference_int8_speedup_vs_seed_handler",
    "inference_int8_label_agreement_bench_sentences",
    "inference_int8_label_agreement_evaluation_sentences",
    "inference_fraction_of_matmul_peak",
    "inference_int8_fraction_of_int8_matmul_peak",
    "inference_single_sentence_latency",
    "cost_per_million_sentences_seed",
    "cost_per_million_sentences_fp32",
    "cost_per_million_sentences_int8",
}


def test_a_small_run_times_every_side_checks_outputs_and_reports_every_entry(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")
    threads = torch.get_num_threads()

    m = bench_inference.measure(tiny_model_dir, **SMALL)

    assert set(m.sides) == {"seed", "fp32", "int8"}
    assert all(len(side.round_seconds) == 2 and side.latency_ms > 0 for side in m.sides.values())
    assert m.sentences == 12 and m.threads == bench_inference.THREADS
    assert m.fp32_vs_seed.agreement == 1.0
    assert m.fp32_vs_seed.max_score_difference <= bench_inference.SCORE_TOLERANCE
    assert m.int8_vs_fp32.texts == 12
    evaluation = training.read_sentences(bench_inference.EVALUATION_SENTENCES, labels=None)
    assert m.int8_vs_fp32_evaluation.texts == len(evaluation)
    assert set(m.evaluation_accuracy) == {"fp32", "int8"}
    assert m.fp32_peak_flops > 0 and m.int8_peak_ops > 0
    assert torch.get_num_threads() == threads, "the thread setting is restored"
    assert os.environ["HUBDEPLOY_PRECISION"] == "fp32", "the environment is restored"

    rows = bench_inference.results(m, cost.prod_instance(), model="tiny")
    by_name = {r.name: r for r in rows}
    assert set(by_name) == ENTRIES
    assert by_name["inference_int8_speedup_vs_seed_handler"].target == ">= 3x"
    assert by_name["inference_int8_label_agreement_bench_sentences"].target == ">= 0.99 fraction"
    assert by_name["inference_int8_label_agreement_evaluation_sentences"].met is not None
    seed_cost = by_name["cost_per_million_sentences_seed"]
    assert seed_cost.unit == "USD" and "ESTIMATE" in seed_cost.note and "ml.m5.xlarge" in seed_cost.note
    int8_cost = by_name["cost_per_million_sentences_int8"]
    assert int8_cost.baseline == seed_cost.value
    assert int8_cost.ratio == pytest.approx(seed_cost.value / int8_cost.value)
    saved = json.loads(save(rows, tmp_path / "results.json").read_text())
    assert {r["name"] for r in saved} == ENTRIES


def test_a_run_whose_fp32_answers_differ_from_the_seed_reports_no_speedup(
    tiny_model_dir, tiny_model_dir_v2, monkeypatch
):
    # the seed's handler runs another model: same labels and shape, other weights, so other scores
    seed_handler = bench_inference.seed_handler
    monkeypatch.setattr(bench_inference, "seed_handler", lambda _model_dir: seed_handler(tiny_model_dir_v2))

    with pytest.raises(OutputMismatch, match="fp32 and the seed answer text 0"):
        bench_inference.measure(tiny_model_dir, **SMALL)


def test_an_int8_setting_that_quantizes_nothing_is_refused(tiny_model_dir):
    def model_fn(model_dir: str) -> SimpleNamespace:  # a serving module that ignores HUBDEPLOY_PRECISION
        return SimpleNamespace(model=torch.nn.Sequential(torch.nn.Linear(2, 2)))

    with pytest.raises(ArtifactError, match="ignored HUBDEPLOY_PRECISION=int8"):
        bench_inference.serving_handler(SimpleNamespace(model_fn=model_fn), tiny_model_dir, precision="int8")


def test_scores_equal_within_the_tolerance_pass_and_any_larger_difference_fails():
    seed = [{"Positive": 0.7, "Negative": 0.2, "Neutral": 0.1}, {"Positive": 0.1, "Negative": 0.1, "Neutral": 0.8}]
    rounded = [{k: v + 5e-7 for k, v in scores.items()} for scores in seed]
    assert require_same(rounded, seed, ["a", "b"], tolerance=1e-6, names=("ours", "seed")).agreement == 1.0

    shifted = [seed[0], {"Positive": 0.1, "Negative": 0.1 + 1e-3, "Neutral": 0.8 - 1e-3}]  # same label
    with pytest.raises(OutputMismatch, match=r"answer text 1 \('b'\) differently"):
        require_same(shifted, seed, ["a", "b"], tolerance=1e-6, names=("ours", "seed"))


def test_label_agreement_counts_texts_whose_top_label_differs():
    fp32 = [{"Positive": 0.51, "Negative": 0.49}, {"Positive": 0.9, "Negative": 0.1}]
    int8 = [{"Positive": 0.49, "Negative": 0.51}, {"Positive": 0.88, "Negative": 0.12}]

    comparison = compare(int8, fp32)

    assert (comparison.same_label, comparison.texts, comparison.agreement) == (1, 2, 0.5)
    assert comparison.max_score_difference == pytest.approx(0.02)
    with pytest.raises(OutputMismatch, match="labels"):
        compare([{"Positive": 1.0}], [{"Negative": 1.0}])


def test_the_trained_standin_is_trained_once_and_reused(tmp_path: Path):
    recipe = training.Recipe(seed=3, epochs=1, batch_size=32)

    folder, record = trained_base_standin(recipe=recipe, cache=tmp_path, size="tiny")
    again, _ = trained_base_standin(recipe=recipe, cache=tmp_path, size="tiny")

    assert folder == again and folder.parent == tmp_path
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert record["recipe"] == {**record["recipe"], "seed": 3, "epochs": 1} and record["sentences"] == 240


def test_the_bench_runs_it():
    from bench.__main__ import MODULES

    assert "inference" in MODULES
