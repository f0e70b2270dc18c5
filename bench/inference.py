"""Serving throughput: model/code/inference.py against the seed handler, same model, same process, same threads.

The seed handler called a transformers `pipeline("text-classification", return_all_scores=True)` on the
request's list of texts; current transformers spells that `top_k=None` (the documented replacement), and the
pipeline's default batch size of 1 runs one forward pass per text. Ours tokenizes once, sorts by length and
runs padded batches under `torch.inference_mode`.

Both run on the FinBERT-shaped (BERT-base) stand-in with random weights (bench/standin.py), on 512 generated
financial sentences sent as requests of 128 texts (our default per-request limit), alternating which side goes
first.
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

from bench.results import Result
from bench.standin import base_standin

REPO_ROOT = Path(__file__).resolve().parents[1]
N_SENTENCES = 512
REQUEST_SIZE = 128
LATENCY_RUNS = 20

COMPANIES = [
    "Nokia", "Stora Enso", "Apple", "Siemens", "Unilever", "Tesla", "HSBC", "Nestle", "Kone", "Fortum",
    "Wartsila", "Volvo", "Ericsson", "BASF", "Shell", "Alphabet", "Danone", "Santander", "Orion", "Elisa",
]  # fmt: skip
METRICS = [
    "net sales", "operating profit", "revenue", "EBITDA", "net income", "earnings per share", "free cash flow",
    "gross margin", "order intake", "pre-tax profit", "comparable sales", "operating margin",
]  # fmt: skip
UP = ["rose", "increased", "grew", "climbed", "jumped", "improved", "surged", "edged up"]
DOWN = ["fell", "decreased", "declined", "dropped", "slumped", "weakened", "contracted", "slipped"]
PERIODS = ["in the third quarter", "in 2025", "in the first half", "year-on-year", "in the fourth quarter of 2024"]
CURRENCIES = ["EUR", "USD", "SEK", "GBP"]
SHORT = [
    "Shares were flat.",
    "{c} cut its dividend.",
    "{c} shares rallied {p}%.",
    "The outlook is unchanged.",
    "{c} beat estimates.",
    "Guidance was withdrawn.",
    "{c} reported a net loss.",
    "Margins held steady.",
]
CLAUSES = [
    "driven by strong demand in Asia",
    "mainly due to higher raw material costs",
    "as restructuring charges weighed on results",
    "supported by favourable currency effects",
    "despite a challenging market environment",
    "reflecting lower volumes in the packaging segment",
    "while the order backlog remained at a record level",
    "following the divestment of the paper business",
    "which analysts had not expected",
    "according to the company's interim report",
]
OUTLOOKS = [
    "The company expects {m} to {dir} in {y}.",
    "{c} reiterated its full-year guidance and expects {m} to {dir} compared with the previous year.",
    "Management said that the market outlook for the rest of the year remains uncertain.",
    "{c} will propose a dividend of {cur} {d:.2f} per share to the annual general meeting.",
]


def financial_sentences(n: int = N_SENTENCES, *, seed: int = 7) -> list[str]:
    """`n` varied, realistic analyst-report sentences (deterministic for a seed), short to long."""
    rng = random.Random(seed)

    def metric_change() -> str:
        currency, unit = rng.choice(CURRENCIES), rng.choice(["mn", "million", "bn"])
        now, before = rng.uniform(1, 950), rng.uniform(1, 950)
        direction = rng.choice(UP if now > before else DOWN)
        return (
            f"{rng.choice(METRICS)} {direction} to {currency} {now:.1f} {unit} from {currency} {before:.1f} {unit} "
            + (rng.choice(PERIODS))
        )

    sentences = []
    for _ in range(n):
        kind = rng.random()
        company = rng.choice(COMPANIES)
        if kind < 0.3:
            text = rng.choice(SHORT).format(c=company, p=rng.randint(2, 19))
        elif kind < 0.9:
            text = f"{company}'s {metric_change()}, {rng.choice(CLAUSES)}."
            if rng.random() < 0.4:
                text += " " + rng.choice(OUTLOOKS).format(
                    c=company,
                    m=rng.choice(METRICS),
                    dir=rng.choice(["increase", "decrease", "remain stable", "grow slightly"]),
                    y=rng.choice(["2026", "2027"]),
                    cur=rng.choice(CURRENCIES),
                    d=rng.uniform(0.1, 3.5),
                )
        else:
            parts = [f"In its interim report, {company} said that {metric_change()}, {rng.choice(CLAUSES)}"]
            for _ in range(rng.randint(1, 2)):
                parts.append(f"while {metric_change()}, {rng.choice(CLAUSES)}")
            text = ", ".join(parts) + "."
        sentences.append(text)
    return sentences


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


def matmul_flops_per_second(size: int = 2048, repeats: int = 5) -> float:
    """Best-of fp32 torch.matmul throughput at the current thread count."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def run() -> list[Result]:
    import os

    import torch
    from transformers import pipeline

    model_dir = base_standin()
    inference = load_inference_module()
    # Threads as model_fn sets them in the container by default: the multi-model server runs one worker per
    # vCPU, so each worker gets one thread. The seed side shares the process-wide setting: same threads.
    os.environ.pop("HUBDEPLOY_NUM_THREADS", None)
    os.environ.pop("SAGEMAKER_MODEL_SERVER_WORKERS", None)
    classifier = inference.model_fn(str(model_dir))
    threads = torch.get_num_threads()
    seed_pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), top_k=None)
    torch.set_num_threads(threads)

    sentences = financial_sentences()
    requests = [sentences[i : i + REQUEST_SIZE] for i in range(0, len(sentences), REQUEST_SIZE)]

    def ours(texts: list[str]) -> list[str]:
        return [e["label"] for e in inference.predict_fn({"inputs": texts}, classifier)]

    def seed(texts: list[str]) -> list[str]:
        return [max(scores, key=lambda s: s["score"])["label"] for scores in seed_pipe(texts)]

    ours(sentences[:4])  # warm-up: allocator, kernels
    seed(sentences[:4])
    time_ours = time_seed = 0.0
    labels_ours: list[str] = []
    labels_seed: list[str] = []
    for index, request in enumerate(requests):
        order = [("ours", ours), ("seed", seed)]
        for name, fn in order if index % 2 == 0 else reversed(order):  # alternate who runs first
            started = time.perf_counter()
            labels = fn(request)
            elapsed = time.perf_counter() - started
            if name == "ours":
                time_ours += elapsed
                labels_ours += labels
            else:
                time_seed += elapsed
                labels_seed += labels

    agreement = sum(a == b for a, b in zip(labels_ours, labels_seed, strict=True)) / len(sentences)
    assert agreement == 1.0, f"argmax labels differ from the seed handler's on {1 - agreement:.1%} of sentences"

    tokens = [len(ids) for ids in classifier.tokenizer(sentences, truncation=True, max_length=512)["input_ids"]]
    config = classifier.model.config
    flops = bert_flops(tokens, hidden=config.hidden_size, ffn=config.intermediate_size, layers=config.num_hidden_layers)
    achieved = flops / time_ours
    peak = matmul_flops_per_second()

    one = sentences[1]
    lat_ours, lat_seed = [], []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        ours([one])
        lat_ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        seed([one])
        lat_seed.append(time.perf_counter() - started)
    latency_ours = statistics.median(lat_ours) * 1000
    latency_seed = statistics.median(lat_seed) * 1000

    rate_ours = len(sentences) / time_ours
    rate_seed = len(sentences) / time_seed
    common = (
        f"BERT-base stand-in, {len(sentences)} sentences in requests of {REQUEST_SIZE} "
        f"(mean {statistics.mean(tokens):.0f} tokens), {threads} thread(s) each side, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    return [
        Result(
            "inference_speedup_vs_seed_handler",
            rate_ours,
            "sentences/s",
            baseline=rate_seed,
            ratio=rate_ours / rate_seed,
            note=f"target >= 1.5x; argmax agreement {agreement:.1%}; {common}",
        ),
        Result(
            "inference_fraction_of_matmul_peak",
            achieved / peak,
            "fraction",
            baseline=peak / 1e9,
            ratio=achieved / peak,
            note=f"achieved {achieved / 1e9:.1f} GFLOP/s (useful FLOPs) vs fp32 {2048}^3 matmul "
            f"{peak / 1e9:.1f} GFLOP/s (baseline column, GFLOP/s)",
        ),
        Result(
            "inference_single_sentence_latency",
            latency_ours,
            "ms",
            baseline=latency_seed,
            ratio=latency_seed / latency_ours,
            note=f"median of {LATENCY_RUNS}; ratio = seed / ours; {threads} thread(s)",
        ),
    ]
