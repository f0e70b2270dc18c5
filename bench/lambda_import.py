"""Lambda cold start: importing lambda/handler.py in a fresh interpreter against a bare `import boto3`.

The handler needs boto3 anyway, so boto3's own import is the floor; the ratio shows what our modules add.
Each sample is a new process (as a cold start is), timed inside it from just before the import to just after,
so interpreter start-up is excluded from both sides. Samples alternate between the two sides.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.results import Result

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_DIR = REPO_ROOT / "lambda"
SAMPLES = 9
TARGET_OVER_BOTO3 = 1.5  # our modules may add at most half of boto3's own import time to a cold start
TIMED = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _sample(stmt: str) -> float:
    env = {**os.environ, "ENDPOINT_NAME": "bench", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", TIMED.format(stmt=stmt)],
        cwd=LAMBDA_DIR,  # the runtime puts the unpacked zip first on sys.path; cwd "" does the same here
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout.strip().splitlines()[-1])


def run() -> list[Result]:
    ours: list[float] = []
    bare: list[float] = []
    client: list[float] = []
    _sample("import boto3")  # warm the OS file cache before measuring
    for _ in range(SAMPLES):
        bare.append(_sample("import boto3"))
        ours.append(_sample("import handler"))
        client.append(_sample("import handler; handler.sagemaker_endpoint.client()"))
    ours_ms, bare_ms = statistics.median(ours) * 1000, statistics.median(bare) * 1000
    client_ms = statistics.median(client) * 1000
    return [
        Result(
            "lambda_import_vs_boto3",
            ours_ms,
            "ms",
            baseline=bare_ms,
            ratio=ours_ms / bare_ms,
            note=f"median of {SAMPLES} fresh processes each; baseline = bare `import boto3`",
            target_op="<=",
            target_value=TARGET_OVER_BOTO3,
        ),
        Result(
            "lambda_first_call_setup",
            client_ms,
            "ms",
            baseline=ours_ms,
            ratio=client_ms / ours_ms,
            note="import + creating the sagemaker-runtime client (done on the first request, reused when warm)",
        ),
    ]
