"""The request-limits table: from one measured number to each environment's API limits and container settings.

`terraform/root/request-limits.json` is the one source of truth: Terraform reads its `derived` section by the
env's instance type (`jsondecode(file(...))`), the tests read all of it. Its `measurement` comes from
`make bench` (`bench/request_size.py` writes `.bench/request_size.json`); everything else is stated by hand
(`assumptions`, `timeouts`, `families`, `instances`), and `derived` is computed here from the rest:

    .venv/bin/python -m bench.request_limits            # take .bench/request_size.json, rewrite the table
    .venv/bin/python -m bench.request_limits --check    # exit 1 when the committed `derived` is stale
    .venv/bin/python -m bench.request_limits --markdown # the table for terraform/root/README.md

The derivation, per instance type (or serverless memory size):
- layout: one model-server worker per physical core, with that core's hardware threads as torch threads
  (m5/c5 vCPUs are hyperthreads, two per core; t2 vCPUs are whole cores). The multi-model server's default,
  one worker per vCPU with one thread each, puts two workers on the two hyperthreads of one core: each
  request then runs at half a core. Serverless and GPU endpoints get one worker (MMS: one per GPU) using
  every vCPU.
- seconds per 512-token sequence on that worker = measured seconds with 1 thread here (its CPU time, which
  other processes on the machine do not inflate) x the family's slowdown (a cloud core vs this machine's)
  x the safety factor / the speed-up of the worker's cores (extrapolated linearly from the measured 1 -> 2
  thread speed-up; 1 for a single core).
- max_texts = floor((read timeout - overhead) / seconds per sequence): the largest request the API accepts,
  every text at max_text_chars and so truncated to 512 tokens, answers before the Lambda's read timeout.
- max_text_chars = max_tokens x chars_per_token; max_body_bytes = the longest JSON spelling of such a request.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TABLE_PATH = REPO_ROOT / "terraform" / "root" / "request-limits.json"
MEASUREMENT_PATH = Path(".bench") / "request_size.json"
# A character's longest JSON spelling: a \uXXXX\uXXXX surrogate pair is 12 bytes for one code point.
MAX_JSON_BYTES_PER_CHAR = 12
# Quotes, comma and space around each text, and the {"texts": [...]} wrapper with some whitespace.
JSON_BYTES_PER_TEXT = 4
JSON_BYTES_PER_BODY = 1024


def load_table(path: Path = TABLE_PATH) -> dict[str, Any]:
    """The committed table as a dict."""
    table: dict[str, Any] = json.loads(path.read_text())
    return table


def family_of(key: str) -> str:
    """`ml.m5.xlarge` -> `m5`; `serverless-3072` -> `serverless`."""
    if key.startswith("serverless-"):
        return "serverless"
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        raise ValueError(f"instance key {key!r} is neither ml.<family>.<size> nor serverless-<memory MB>")
    return parts[1]


def thread_speedup(cores: float, *, one_thread: float, two_threads: float) -> float:
    """Speed-up of `cores` cores over one, extrapolated from the measured 1 -> 2 thread speed-up (2 cores here).

    Linear in the measured efficiency of the second core (Amdahl-like, never super-linear, never below 1).
    """
    efficiency = min(1.0, max(0.0, one_thread / two_threads - 1.0))
    return 1.0 + max(0.0, cores - 1.0) * efficiency


def layout(vcpus: int, *, threads_per_core: int, single_worker: bool) -> tuple[int, int]:
    """(model-server workers, torch threads per worker) for an instance's vCPUs."""
    if single_worker:
        return 1, vcpus
    threads = min(vcpus, threads_per_core)
    return max(1, vcpus // threads), threads


def derive_one(key: str, table: dict[str, Any]) -> dict[str, Any]:
    """The `derived` entry of one instance type (see the module docstring)."""
    spec = table["instances"][key]
    family = table["families"][family_of(key)]
    assumptions = table["assumptions"]
    timeouts = table["timeouts"]
    measured = table["measurement"]["seconds_per_sequence"]
    # one core's time per sequence: the single-threaded run's CPU time, which other load on the machine
    # does not inflate (its wall time does); the 1 -> 2 thread speed-up comes from the wall times
    one_core = table["measurement"]["cpu_seconds_per_sequence"]["1"]
    vcpus = int(spec["vcpus"])
    threads_per_core = int(family["threads_per_core"])
    single_worker = bool(family.get("single_worker", False))
    workers, threads = layout(vcpus, threads_per_core=threads_per_core, single_worker=single_worker)
    cores_per_worker = threads / threads_per_core
    speedup = thread_speedup(cores_per_worker, one_thread=measured["1"], two_threads=measured["2"])
    per_sequence = one_core * family["slowdown"] * assumptions["safety_factor"] / speedup
    budget = timeouts["sagemaker_read_timeout_seconds"] - assumptions["overhead_seconds"]
    max_texts = math.floor(budget / per_sequence)
    if max_texts < 1:
        raise ValueError(
            f"{key}: one 512-token text takes an estimated {per_sequence:.1f} s, more than the "
            f"{budget:.0f} s budget: lower max_tokens or choose a faster instance type"
        )
    max_text_chars = int(assumptions["max_tokens"] * assumptions["chars_per_token"])
    body = max_texts * (max_text_chars * MAX_JSON_BYTES_PER_CHAR + JSON_BYTES_PER_TEXT) + JSON_BYTES_PER_BODY
    return {
        "vcpus": vcpus,
        "workers": workers,
        "threads_per_worker": threads,
        "seconds_per_sequence": round(per_sequence, 3),
        "worst_case_seconds": round(max_texts * per_sequence + assumptions["overhead_seconds"], 2),
        "limits": {
            "max_texts": max_texts,
            "max_text_chars": max_text_chars,
            "max_body_bytes": math.ceil(body / 1024) * 1024,
        },
        # What the SageMaker model's environment gets (the toolkit and model_fn read these).
        "container_environment": {
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(timeouts["model_server_timeout_seconds"]),
            "HUBDEPLOY_NUM_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
        },
    }


def derive(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`derived` for every instance type of the table, in its order."""
    return {key: derive_one(key, table) for key in table["instances"]}


def timeout_chain_problems(table: dict[str, Any]) -> list[str]:
    """Every broken link of worst case <= read timeout < Lambda timeout < API Gateway timeout; [] when sound."""
    t = table["timeouts"]
    read, connect = t["sagemaker_read_timeout_seconds"], t["sagemaker_connect_timeout_seconds"]
    problems = []
    for key, entry in table["derived"].items():
        if entry["worst_case_seconds"] > read:
            problems.append(f"{key}: worst case {entry['worst_case_seconds']} s > read timeout {read} s")
    if connect + read + t["lambda_overhead_seconds"] > t["lambda_timeout_seconds"]:
        problems.append("connect + read timeout + Lambda overhead exceed the Lambda timeout")
    if t["lambda_timeout_seconds"] + t["lambda_cold_start_allowance_seconds"] > t["api_gateway_integration_seconds"]:
        problems.append("Lambda timeout + cold start exceed API Gateway's integration timeout")
    if not read < t["invoke_endpoint_max_seconds"] <= t["model_server_timeout_seconds"]:
        problems.append("need read timeout < InvokeEndpoint's 60 s <= model server timeout")
    return problems


def with_measurement(table: dict[str, Any], measurement: dict[str, Any]) -> dict[str, Any]:
    """A copy of `table` with a new measurement (from `.bench/request_size.json`) and `derived` recomputed."""
    updated = json.loads(json.dumps(table))
    updated["measurement"] = measurement
    updated["derived"] = derive(updated)
    return updated


def dumps(table: dict[str, Any]) -> str:
    """The table's committed spelling (stable, so a rerun without changes rewrites nothing)."""
    return json.dumps(table, indent=2) + "\n"


def markdown(table: dict[str, Any]) -> str:
    """The table as terraform/root/README.md shows it (a test checks that the README has this exact text)."""
    m = table["measurement"]
    lines = [
        f"Measured {m['date']} on {m['machine']} (load average {m['load_average_1min']}), torch {m['torch']}: "
        f"{m['cpu_seconds_per_sequence']['1']} s (CPU time; wall {m['seconds_per_sequence']['1']} s) per "
        f"512-token sequence with 1 thread, {m['seconds_per_sequence']['2']} s with 2 (median of {m['rounds']} "
        "requests of "
        f"{m['texts_per_request']} x {m['chars_per_text']} characters; {m['gflop_per_sequence']} GFLOP per "
        f"sequence, {m['effective_gflops_1_thread']} GFLOP/s effective on one thread).",
        "",
        "| instance type | vCPUs | workers x threads | s per sequence (est.) | max_texts | max_text_chars "
        "| max_body_bytes | worst case |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, entry in table["derived"].items():
        limits = entry["limits"]
        lines.append(
            f"| `{key}` | {entry['vcpus']} | {entry['workers']} x {entry['threads_per_worker']} "
            f"| {entry['seconds_per_sequence']} | {limits['max_texts']} | {limits['max_text_chars']} "
            f"| {limits['max_body_bytes']} | {entry['worst_case_seconds']} s |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.request_limits", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that `derived` matches the rest")
    parser.add_argument("--markdown", action="store_true", help="print the README's table of the committed file")
    parser.add_argument("--measurement", type=Path, default=MEASUREMENT_PATH, help="what `make bench` wrote")
    parser.add_argument("--table", type=Path, default=TABLE_PATH)
    args = parser.parse_args(argv)
    table = load_table(args.table)
    if args.markdown:
        print(markdown(table), end="")
        return 0
    if args.check:
        stale = derive(table) != table["derived"]
        problems = timeout_chain_problems(table) + (["derived is stale"] if stale else [])
        for problem in problems:
            print(f"{args.table}: {problem}: run `python -m bench.request_limits`", file=sys.stderr)
        return 1 if problems else 0
    if not args.measurement.is_file():
        hint = "run `make bench` (or `python -m bench request_size`) first"
        print(f"{args.measurement} is missing: {hint}", file=sys.stderr)
        return 1
    updated = with_measurement(table, json.loads(args.measurement.read_text()))
    problems = timeout_chain_problems(updated)
    if problems:
        print(f"not written: {'; '.join(problems)}", file=sys.stderr)
        return 1
    args.table.write_text(dumps(updated))
    for key, entry in updated["derived"].items():
        limits = entry["limits"]
        print(
            f"{key:18} {entry['workers']} worker(s) x {entry['threads_per_worker']} thread(s)  "
            f"{entry['seconds_per_sequence']:6.2f} s/sequence  max_texts {limits['max_texts']:3}  "
            f"worst case {entry['worst_case_seconds']:5.1f} s"
        )
    print(f"wrote {args.table}; paste `python -m bench.request_limits --markdown` into terraform/root/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
