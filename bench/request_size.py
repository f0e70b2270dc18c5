"""The largest request the API accepts, through model/code/inference.py: how long does it take here?

The worst case is `max_texts` texts (the largest of the committed table's CPU entries), each `max_text_chars`
long, so each one is truncated to the model's 512 tokens. Every round sends it through the serving path the
toolkit calls (`input_fn` -> `predict_fn` -> `output_fn`) on the BERT-base stand-in, CPU, fp32, with 1 and
2 torch threads (`HUBDEPLOY_NUM_THREADS`, read by `model_fn`). Median and max over the rounds go to
`.bench/results.json`; the full measurement (with the machine, date and versions) to
`.bench/request_size.json`, which `python -m bench.request_limits` turns into the committed table.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench.environment import environment
from bench.inference import N_SENTENCES, bert_flops, load_inference_module
from bench.request_limits import MEASUREMENT_PATH, family_of, load_table
from bench.results import Result
from bench.sentences import financial_sentences
from bench.standin import base_standin

ROUNDS = 5
THREADS = (1, 2)


def worst_case_texts(n_texts: int, n_chars: int) -> list[str]:
    """`n_texts` different texts of exactly `n_chars` characters of running financial prose."""
    sentences = financial_sentences(4 * n_texts + 64, seed=11)
    texts = []
    for index in range(n_texts):
        rotated = sentences[index:] + sentences[:index]
        prose = " ".join(rotated)
        while len(prose) < n_chars:
            prose = f"{prose} {prose}"
        texts.append(prose[:n_chars])
    return texts


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def chars_per_token(tokenizer: Any) -> float:
    """Mean characters per token of the financial sentences (no truncation, no special tokens)."""
    sentences = financial_sentences(N_SENTENCES)
    tokens = sum(len(ids) for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"])
    return sum(len(s) for s in sentences) / tokens


def measure(
    model_dir: Path, *, n_texts: int, n_chars: int, threads: tuple[int, ...] = THREADS, rounds: int = ROUNDS
) -> dict[str, Any]:
    """Time the worst-case request `rounds` times per thread count.

    Returns:
        The measurement as `bench.request_limits` stores it: seconds per (truncated) sequence, median and
        max per thread count, with what was measured and where.

    Raises:
        ValueError: a text would not be truncated (n_chars too small for the model's token limit).
    """
    import torch
    import transformers

    inference = load_inference_module()
    texts = worst_case_texts(n_texts, n_chars)
    body = json.dumps({"inputs": texts}).encode("utf-8")
    per_sequence: dict[str, list[float]] = {}
    cpu_per_sequence: dict[str, list[float]] = {}
    model_tokens = 0
    ratio = 0.0
    with environment(SAGEMAKER_MODEL_SERVER_WORKERS=None):  # threads from HUBDEPLOY_NUM_THREADS alone
        for count in threads:
            with environment(HUBDEPLOY_NUM_THREADS=str(count)):
                classifier = inference.model_fn(str(model_dir))
                model_tokens = classifier.max_length
                lengths = [len(ids) for ids in classifier.tokenizer(texts, truncation=False)["input_ids"]]
                if min(lengths) <= model_tokens:
                    raise ValueError(f"{n_chars} characters make only {min(lengths)} tokens: nothing is truncated")
                ratio = ratio or chars_per_token(classifier.tokenizer)
                inference.predict_fn({"inputs": texts[:1]}, classifier)  # warm-up: allocator, kernels
                samples, cpu = [], []
                for _ in range(rounds):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    data = inference.input_fn(body, "application/json")
                    answer = inference.output_fn(inference.predict_fn(data, classifier), "application/json")
                    samples.append((time.perf_counter() - started) / n_texts)
                    cpu.append((time.process_time() - cpu_started) / n_texts)
                    assert len(json.loads(answer)) == n_texts
                per_sequence[str(count)] = samples
                cpu_per_sequence[str(count)] = cpu
    config = classifier.model.config
    flops = bert_flops(
        [model_tokens], hidden=config.hidden_size, ffn=config.intermediate_size, layers=config.num_hidden_layers
    )
    one_thread = statistics.median(cpu_per_sequence[str(threads[0])])
    return {
        # wall clock, median and max over the rounds
        "seconds_per_sequence": {k: round(statistics.median(v), 4) for k, v in per_sequence.items()},
        "seconds_per_sequence_max": {k: round(max(v), 4) for k, v in per_sequence.items()},
        # CPU time of the process (all its threads), median: with one thread, the wall time this core needs
        # when nothing else runs on the machine (other processes add waiting, not CPU time)
        "cpu_seconds_per_sequence": {k: round(statistics.median(v), 4) for k, v in cpu_per_sequence.items()},
        "tokens_per_sequence": model_tokens,
        "texts_per_request": n_texts,
        "chars_per_text": n_chars,
        "rounds": rounds,
        "chars_per_token_financial_sentences": round(ratio, 2),
        # useful forward FLOPs of one sequence / the median time: what a family's `slowdown` is reasoned against
        "gflop_per_sequence": round(flops / 1e9, 2),
        f"effective_gflops_{threads[0]}_thread": round(flops / one_thread / 1e9, 1),
        "model": f"{model_dir.name}: BERT-base (FinBERT-tone's shape), fp32, model/code/inference.py input_fn -> "
        "predict_fn -> output_fn",
        "machine": f"{cpu_name()}, {os.cpu_count()} vCPU(s), {platform.machine()}, Linux {platform.release()}",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def worst_case_request(table: dict[str, Any]) -> tuple[int, int]:
    """(texts, characters per text) of the largest request the table lets a CPU endpoint accept."""
    cpu = [
        entry["limits"] for key, entry in table["derived"].items() if not table["families"][family_of(key)].get("gpu")
    ]
    return max(limits["max_texts"] for limits in cpu), max(limits["max_text_chars"] for limits in cpu)


def results(measurement: dict[str, Any]) -> list[Result]:
    """The `.bench/results.json` entries of a measurement."""
    n_texts, n_chars = measurement["texts_per_request"], measurement["chars_per_text"]
    out = []
    for threads, median in measurement["seconds_per_sequence"].items():
        worst = measurement["seconds_per_sequence_max"][threads]
        out.append(
            Result(
                f"request_worst_case_{threads}_thread",
                median * n_texts,
                "s",
                baseline=worst * n_texts,
                note=f"median (baseline column: max) of {measurement['rounds']} requests of {n_texts} texts x "
                f"{n_chars} chars (each truncated to {measurement['tokens_per_sequence']} tokens); "
                f"{median:.3f} s per sequence; load average {measurement['load_average_1min']}",
            )
        )
    return out


def run() -> list[Result]:
    n_texts, n_chars = worst_case_request(load_table())
    measurement = measure(base_standin(), n_texts=n_texts, n_chars=n_chars)
    MEASUREMENT_PATH.parent.mkdir(parents=True, exist_ok=True)
    MEASUREMENT_PATH.write_text(json.dumps(measurement, indent=2) + "\n")
    print(f"   wrote {MEASUREMENT_PATH}: `python -m bench.request_limits` updates terraform/root/request-limits.json")
    return results(measurement)
