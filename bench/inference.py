"""Serving throughput: the seed handler against model/code/inference.py in fp32 and in int8, same model, same
process, same threads, same texts, with their outputs checked.

The seed handler called a transformers `pipeline("text-classification", return_all_scores=True)` on the
request's list of texts; current transformers spells that `top_k=None` (the documented replacement), and the
pipeline's default batch size of 1 runs one forward pass per text. Ours tokenizes once, sorts by length and
runs padded batches under `torch.inference_mode`; `HUBDEPLOY_PRECISION=int8` also quantizes its Linear layers.

The model is the FinBERT-shaped (BERT-base) stand-in trained briefly (bench/standin.py): a trained model's
decision margins are what decides whether int8 rounding flips labels (random weights put every text near a
tie). 512 generated financial sentences are sent as requests of 128 texts (our default per-request limit), for
several rounds; within a round the sides take turns request by request, the first to go rotating, so a change
in the machine's load hits every side alike. Every side returns every label's score: fp32 must equal the seed
(same label, scores within float rounding, else no speed-up is reported); int8's labels are compared with
fp32's on these sentences and on the labelled evaluation/sentences.jsonl.

Threads: one torch thread per side (`THREADS`). The seed ran on one thread per worker (the multi-model server
starts one worker per vCPU), one thread is one vCPU for the cost per million sentences (bench/cost.py), and
on this 2-core machine shared with other processes a second thread would measure their load more than ours.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import cost, peaks
from bench.environment import environment
from bench.outputs import Comparison, Scores, compare, require_same, top_label
from bench.results import Result
from bench.sentences import financial_sentences
from bench.standin import trained_base_standin
from hubdeploy.errors import ArtifactError

REPO_ROOT = Path(__file__).resolve().parents[1]
EVALUATION_SENTENCES = REPO_ROOT / "evaluation" / "sentences.jsonl"
N_SENTENCES = 512
REQUEST_SIZE = 128
ROUNDS = 5
LATENCY_RUNS = 20
THREADS = 1
# fp32 against the seed: the same weights, so only float rounding may differ (padded batches vs one text at a
# time sum in another order); measured differences are about 1e-6, a real bug moves scores far more.
SCORE_TOLERANCE = 1e-4
TARGET_INT8_SPEEDUP = 3.0
TARGET_INT8_AGREEMENT = 0.99
TARGET_FP32_SPEEDUP = 1.5

Classify = Callable[[list[str]], list[Scores]]


def load_inference_module() -> ModuleType:
    """model/code/inference.py as a module (the file that ships in model.tar.gz)."""
    path = REPO_ROOT / "model" / "code" / "inference.py"
    spec = importlib.util.spec_from_file_location("hubdeploy_serving_inference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def bert_flops(token_counts: list[int], *, hidden: int, ffn: int, layers: int) -> float:
    """Forward FLOPs of a BERT encoder over sequences of the given (unpadded) lengths.

    Per token and layer: Q, K, V and output projections (4 h^2) and the feed-forward (2 h f) multiply-adds;
    per sequence and layer: attention scores and weighted values (2 L^2 h). A multiply-add counts as 2 FLOPs.
    Padding is not counted: it is work, but not useful work.
    """
    total = 0.0
    for length in token_counts:
        total += layers * (2 * length * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * length * length * hidden)
    return total


def seed_handler(model_dir: Path) -> Classify:
    """The seed's handler: a text-classification pipeline returning every label's score, one text at a time."""
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), top_k=None)

    def classify(texts: list[str]) -> list[Scores]:
        return [{s["label"]: float(s["score"]) for s in scores} for scores in pipe(texts)]

    return classify


def serving_handler(inference: ModuleType, model_dir: Path, *, precision: str) -> Classify:
    """Ours: model_fn once with HUBDEPLOY_PRECISION=`precision`, then predict_fn per request, every score asked.

    Raises:
        ArtifactError: int8 was asked for and model_fn returned a model without quantized Linear layers.
    """
    with environment(HUBDEPLOY_PRECISION=precision, HUBDEPLOY_NUM_THREADS=str(THREADS)):
        classifier = inference.model_fn(str(model_dir))
    if precision == "int8" and not _is_quantized(classifier.model):
        raise ArtifactError(
            "model/code/inference.py ignored HUBDEPLOY_PRECISION=int8: its model has no quantized Linear layer",
            hint="model_fn must quantize nn.Linear to qint8 when HUBDEPLOY_PRECISION=int8",
        )

    def classify(texts: list[str]) -> list[Scores]:
        entries = inference.predict_fn({"inputs": texts, "parameters": {"return_all_scores": True}}, classifier)
        return [{s["label"]: float(s["score"]) for s in entry["scores"]} for entry in entries]

    return classify


def _is_quantized(model: Any) -> bool:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return any(isinstance(module, DynamicLinear) for module in model.modules())


@dataclass(frozen=True)
class SideRun:
    """One side's timings: seconds per round (all the sentences), and one sentence's latency."""

    name: str
    round_seconds: tuple[float, ...]
    latency_ms: float

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.round_seconds)

    @property
    def best_seconds(self) -> float:
        return min(self.round_seconds)


@dataclass(frozen=True)
class Measurement:
    """Everything one benchmark run measured; `results` turns it into entries."""

    sentences: int
    request_size: int
    rounds: int
    threads: int
    mean_tokens: float
    useful_flops: float  # over all the sentences, once
    sides: dict[str, SideRun]  # "seed", "fp32", "int8"
    fp32_vs_seed: Comparison
    int8_vs_fp32: Comparison
    int8_vs_fp32_evaluation: Comparison
    evaluation_accuracy: dict[str, float]  # fp32, int8: share of evaluation/sentences.jsonl labelled as the file
    fp32_peak_flops: float
    int8_peak_ops: float
    quantized_engine: str
    load_average: tuple[float, float]  # 1-minute load average at the start and at the end

    def rate(self, side: str) -> float:
        """Median sentences/s of `side`."""
        return self.sentences / self.sides[side].median_seconds

    def best_rate(self, side: str) -> float:
        return self.sentences / self.sides[side].best_seconds


def timed_rounds(
    sides: dict[str, Classify], requests: list[list[str]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[Scores]]]:
    """Each side's seconds per round over all `requests`, and its outputs (the last round's).

    Sides take turns request by request; which goes first rotates with every request and round.
    """
    names = list(sides)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, list[Scores]] = {}
    for round_index in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        answers: dict[str, list[Scores]] = {name: [] for name in names}
        for request_index, request in enumerate(requests):
            shift = (round_index + request_index) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                answers[name] += sides[name](request)
                spent[name] += time.perf_counter() - started
        for name in names:
            seconds[name].append(spent[name])
        outputs = answers
    return seconds, outputs


def _latency_ms(classify: Classify, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        classify([text])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(
    model_dir: Path,
    *,
    n_sentences: int = N_SENTENCES,
    request_size: int = REQUEST_SIZE,
    rounds: int = ROUNDS,
    latency_runs: int = LATENCY_RUNS,
    peak_size: int = peaks.SIZE,
    evaluation_path: Path = EVALUATION_SENTENCES,
) -> Measurement:
    """Run the seed, fp32 and int8 sides on `model_dir` and check their outputs (see the module docstring).

    Raises:
        OutputMismatch: fp32 and the seed answer some sentence differently.
        ArtifactError: the serving code does not quantize when asked for int8.
    """
    import torch

    from hubdeploy.artifacts.training import read_sentences

    load_start = os.getloadavg()[0]
    threads_before = torch.get_num_threads()
    inference = load_inference_module()
    try:
        sides = {
            "seed": seed_handler(model_dir),
            "fp32": serving_handler(inference, model_dir, precision="fp32"),
            "int8": serving_handler(inference, model_dir, precision="int8"),
        }
        torch.set_num_threads(THREADS)  # model_fn set it too; the seed's pipeline shares the process-wide setting
        sentences = financial_sentences(n_sentences)
        requests = [sentences[i : i + request_size] for i in range(0, len(sentences), request_size)]
        for classify in sides.values():
            classify(sentences[:4])  # warm-up: allocator, kernels, packed weights
        seconds, outputs = timed_rounds(sides, requests, rounds)
        fp32_vs_seed = require_same(
            outputs["fp32"], outputs["seed"], sentences, tolerance=SCORE_TOLERANCE, names=("fp32", "the seed")
        )
        labelled = read_sentences(evaluation_path, labels=None)
        texts = [s.text for s in labelled]
        evaluation = {
            name: [
                scores
                for i in range(0, len(texts), request_size)
                for scores in sides[name](texts[i : i + request_size])
            ]
            for name in ("fp32", "int8")
        }
        accuracy = {
            name: sum(top_label(scores) == s.label for scores, s in zip(answers, labelled, strict=True)) / len(labelled)
            for name, answers in evaluation.items()
        }
        runs = {
            name: SideRun(name, tuple(seconds[name]), _latency_ms(classify, sentences[1], latency_runs))
            for name, classify in sides.items()
        }
        tokens = _token_counts(model_dir, sentences)
        config = _config(model_dir)
        flops = bert_flops(
            tokens, hidden=config["hidden_size"], ffn=config["intermediate_size"], layers=config["num_hidden_layers"]
        )
        return Measurement(
            sentences=len(sentences),
            request_size=request_size,
            rounds=rounds,
            threads=torch.get_num_threads(),
            mean_tokens=statistics.mean(tokens),
            useful_flops=flops,
            sides=runs,
            fp32_vs_seed=fp32_vs_seed,
            int8_vs_fp32=compare(outputs["int8"], outputs["fp32"]),
            int8_vs_fp32_evaluation=compare(evaluation["int8"], evaluation["fp32"]),
            evaluation_accuracy=accuracy,
            fp32_peak_flops=peaks.fp32_matmul_flops(peak_size),
            int8_peak_ops=peaks.int8_linear_ops(peak_size),
            quantized_engine=peaks.quantized_engine(),
            load_average=(load_start, os.getloadavg()[0]),
        )
    finally:
        torch.set_num_threads(threads_before)


def _token_counts(model_dir: Path, sentences: list[str]) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return [len(ids) for ids in tokenizer(sentences, truncation=True, max_length=512)["input_ids"]]


def _config(model_dir: Path) -> dict[str, Any]:
    import json

    config: dict[str, Any] = json.loads((model_dir / "config.json").read_text())
    return config


def results(m: Measurement, instance: cost.Instance, *, model: str) -> list[Result]:
    """The benchmark entries of a measurement; `model` says what model it ran on."""
    seed, fp32, int8 = (m.rate(side) for side in ("seed", "fp32", "int8"))
    common = (
        f"{model}; {m.sentences} sentences (mean {m.mean_tokens:.0f} tokens) in requests of {m.request_size}, "
        f"{m.rounds} rounds, median round (best: {{best}}); {m.threads} thread(s) each side; "
        f"load average {m.load_average[0]:.1f} -> {m.load_average[1]:.1f}"
    )

    def rounds_of(side: str) -> str:
        return f"{m.best_rate(side):.1f} sentences/s"

    fp32_achieved = m.useful_flops / m.sides["fp32"].best_seconds
    int8_achieved = m.useful_flops / m.sides["int8"].best_seconds
    same = (
        f"all scores equal the seed's (max difference {m.fp32_vs_seed.max_score_difference:.1e} <= {SCORE_TOLERANCE:g})"
    )
    entries = [
        Result(
            "inference_speedup_vs_seed_handler",
            fp32,
            "sentences/s",
            baseline=seed,
            ratio=fp32 / seed,
            note=f"fp32; {same}; " + common.format(best=f"ours {rounds_of('fp32')}, seed {rounds_of('seed')}"),
            target_op=">=",
            target_value=TARGET_FP32_SPEEDUP,
        ),
        Result(
            "inference_int8_speedup_vs_seed_handler",
            int8,
            "sentences/s",
            baseline=seed,
            ratio=int8 / seed,
            note="HUBDEPLOY_PRECISION=int8 (dynamic qint8 Linear, a weight scale per row, "
            f"{m.quantized_engine} engine); "
            + common.format(best=f"int8 {rounds_of('int8')}, seed {rounds_of('seed')}"),
            target_op=">=",
            target_value=TARGET_INT8_SPEEDUP,
        ),
        _agreement("inference_int8_label_agreement_bench_sentences", m.int8_vs_fp32, "the bench's generated sentences"),
        _agreement(
            "inference_int8_label_agreement_evaluation_sentences",
            m.int8_vs_fp32_evaluation,
            "evaluation/sentences.jsonl; labelled as the file: "
            f"fp32 {m.evaluation_accuracy['fp32']:.1%}, int8 {m.evaluation_accuracy['int8']:.1%}",
        ),
        Result(
            "inference_fraction_of_matmul_peak",
            fp32_achieved / m.fp32_peak_flops,
            "fraction",
            note=f"fp32, best round: {fp32_achieved / 1e9:.1f} GFLOP/s (useful FLOPs) vs fp32 {peaks.SIZE}^3 "
            f"torch.matmul {m.fp32_peak_flops / 1e9:.1f} GFLOP/s, {m.threads} thread(s)",
        ),
        Result(
            "inference_int8_fraction_of_int8_matmul_peak",
            int8_achieved / m.int8_peak_ops,
            "fraction",
            note=f"int8, best round: {int8_achieved / 1e9:.1f} G op/s (useful operations; attention and softmax "
            f"stay fp32) vs a dynamically quantized {peaks.SIZE}x{peaks.SIZE} Linear on {peaks.SIZE} rows "
            f"{m.int8_peak_ops / 1e9:.1f} G op/s ({m.quantized_engine} engine), "
            f"{m.threads} thread(s)",
        ),
        Result(
            "inference_single_sentence_latency",
            m.sides["fp32"].latency_ms,
            "ms",
            baseline=m.sides["seed"].latency_ms,
            ratio=m.sides["seed"].latency_ms / m.sides["fp32"].latency_ms,
            note=f"fp32, median of runs; ratio = seed / ours; int8 {m.sides['int8'].latency_ms:.0f} ms; "
            f"{m.threads} thread(s)",
        ),
    ]
    return entries + cost_results(m, instance)


def _agreement(name: str, comparison: Comparison, where: str) -> Result:
    return Result(
        name,
        comparison.agreement,
        "fraction",
        note=f"int8's top label = fp32's on {comparison.same_label} of {comparison.texts} texts of {where}; "
        f"largest score difference {comparison.max_score_difference:.3f}",
        target_op=">=",
        target_value=TARGET_INT8_AGREEMENT,
    )


def cost_results(m: Measurement, instance: cost.Instance) -> list[Result]:
    """`cost_per_million_sentences_<side>`: an estimate from the measured per-vCPU throughput (bench/cost.py)."""
    seed_cost = cost.per_million(m.rate("seed") / m.threads, instance)
    entries = []
    for side in ("seed", "fp32", "int8"):
        per_vcpu = m.rate(side) / m.threads
        usd = cost.per_million(per_vcpu, instance)
        entries.append(
            Result(
                f"cost_per_million_sentences_{side}",
                usd,
                "USD",
                baseline=None if side == "seed" else seed_cost,
                ratio=None if side == "seed" else seed_cost / usd,
                note=f"ESTIMATE for {instance.instance_type} (prod's default) in {instance.region}: "
                f"{per_vcpu:.2f} sentences/s per vCPU measured here on {m.threads} thread(s) x {instance.vcpus} "
                f"vCPUs = {per_vcpu * instance.vcpus:.1f} sentences/s per instance at ${instance.usd_per_hour:g}/h "
                f"(the committed price table's: {instance.price_provenance}); assumes {cost.ASSUMPTIONS}"
                + ("" if side == "seed" else "; ratio = seed's cost / this one"),
            )
        )
    return entries


def run() -> list[Result]:
    model_dir, record = trained_base_standin()
    measurement = measure(model_dir)
    model = (
        f"BERT-base stand-in trained {record['recipe']['epochs']} epoch(s) on {record['sentences']} sentences "
        f"(train accuracy {record['train_accuracy']:.0%})"
    )
    return results(measurement, cost.prod_instance(), model=model)
