"""`make bench` for the artifact pipeline: build speed against the seed recipe, and re-publish cost.

On the BERT-base stand-in (bench/standin.py: random weights, FinBERT's config and tokenizer; cached in
.bench/cache and reused) plus the repository's model/code, one run times side by side, on the same
folder, with the page cache warm:
- the seed recipe `tar -czvf model.tar.gz -C model .` (gzip -6, single-threaded),
- `hubdeploy build` (isal threaded igzip, plus lambda.zip and the manifest hashes),
- `tar -cf` without compression: the I/O limit no packer can beat.
Then it publishes the build twice to an in-process moto S3 and counts the bytes the second
publish sends (must be 0).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import Result
from bench.standin import CACHE, base_standin

OUR_RUNS = 3
TAR_RUNS = 3
BUCKET = "bench-artifacts"


def _seed_folder(standin: Path, code_dir: Path, code_names: tuple[str, ...]) -> Path:
    """The seed's model folder: weights + tokenizer (hard links to the stand-in, no copy) + code/."""
    folder = CACHE / "seed-model"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "code").mkdir(parents=True)
    for path in standin.iterdir():
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copyfile(path, folder / path.name)
    for name in code_names:
        shutil.copyfile(code_dir / name, folder / "code" / name)
    return folder


def _warm(folder: Path) -> None:
    """Read everything once so every contender starts from the same warm page cache."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                while fh.read(8 << 20):
                    pass


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _time(fn: Any, cpu: list[float] | None = None, who: int = resource.RUSAGE_SELF) -> float:
    """Wall seconds of fn(); its CPU seconds (all threads, or waited-for children) appended to `cpu`."""
    cpu_before = _cpu(who)
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_cpu(who) - cpu_before)
    return elapsed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _republish_bytes(artifacts: Path) -> tuple[int, int]:
    """Publish the build twice to moto; bytes sent by the first and the second publish."""
    import boto3
    from moto import mock_aws

    from hubdeploy.artifacts import publish

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    sent = {"bytes": 0}

    def count(params: dict, **_: Any) -> None:
        body = params.get("Body")  # the API parameter, before botocore wraps it
        if isinstance(body, bytes | bytearray):
            sent["bytes"] += len(body)
        elif hasattr(body, "fileno"):
            sent["bytes"] += os.fstat(body.fileno()).st_size - body.tell()

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for operation in ("PutObject", "UploadPart"):
            s3.meta.events.register(f"before-parameter-build.s3.{operation}", count)
        totals = []
        for _ in range(2):
            sent["bytes"] = 0
            for name, prefix in (("model.tar.gz", "bench--model"), ("lambda.zip", "lambda")):
                publish.publish_file(s3, bucket=BUCKET, path=artifacts / name, prefix=prefix, tags={})
            totals.append(sent["bytes"])
    return totals[0], totals[1]


def run() -> list[Result]:
    from hubdeploy.artifacts import archive
    from hubdeploy.artifacts.manifest import Manifest
    from hubdeploy.artifacts.modelfiles import validate_model_dir
    from hubdeploy.settings import find_repo_root

    repo_root = find_repo_root()
    code_dir = repo_root / "model" / "code"
    archive.validate_code_dir(code_dir)  # ArtifactError if inference.py or requirements.txt is missing
    archive.validate_lambda_dir(repo_root / "lambda")  # and if lambda/handler.py is
    folder = _seed_folder(base_standin(), code_dir, archive.REQUIRED_CODE)
    weights_mib = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    with tempfile.TemporaryDirectory(prefix="bench-build-", dir=CACHE) as tmp:
        scratch = Path(tmp)
        lambda_dir = repo_root / "lambda"
        serving = validate_model_dir(folder)
        manifest = Manifest(hub_model_id="yiyanghkust/finbert-tone", hub_revision=None, source="local")
        _warm(folder)

        def tar_plain() -> None:
            subprocess.run(["tar", "-cf", str(scratch / "plain.tar"), "-C", str(folder), "."], check=True)

        def seed() -> None:
            # The seed recipe verbatim (-v lists files, as it did).
            subprocess.run(
                ["tar", "-czvf", str(scratch / "seed.tar.gz"), "-C", str(folder), "."],
                check=True,
                stdout=subprocess.DEVNULL,
            )

        def ours(out: Path) -> Any:
            return lambda: archive.build(
                model_dir=folder,
                serving=serving,
                code_dir=folder / "code",
                lambda_dir=lambda_dir,
                out_dir=out,
                manifest=manifest,
            )

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("   timing: tar -cf (I/O limit), the seed's tar -czvf, hubdeploy build", flush=True)
        plain_times = [_time(tar_plain) for _ in range(TAR_RUNS)]
        our_times, our_cpu, seed_cpu, digests = [], [], [], set()
        for i in range(OUR_RUNS):
            out = scratch / f"ours-{i}"
            our_times.append(_time(ours(out), our_cpu))
            digests.add(_sha256(out / archive.MODEL_ARCHIVE))
            if i:  # keep one build for the publish step; drop the others to spare the disk
                shutil.rmtree(out)
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seed_time = _time(seed, seed_cpu, resource.RUSAGE_CHILDREN)
        our_time, plain_time = statistics.median(our_times), statistics.median(plain_times)
        seed_size = (scratch / "seed.tar.gz").stat().st_size / 2**20
        our_size = (scratch / "ours-0" / archive.MODEL_ARCHIVE).stat().st_size / 2**20
        print("   publishing the build twice to moto", flush=True)
        first_bytes, second_bytes = _republish_bytes(scratch / "ours-0")

    return [
        Result(
            name="build_speedup_vs_seed_tar",
            value=round(our_time, 3),
            unit="s",
            baseline=round(seed_time, 3),
            ratio=round(seed_time / our_time, 2),
            note=f"ratio = seed `tar -czvf` time / hubdeploy build time (median of {OUR_RUNS}), same "
            f"{weights_mib:.0f} MiB folder, same run, warm cache; target >= 10x. Sizes: seed {seed_size:.0f} MiB, "
            f"ours {our_size:.0f} MiB; {len(digests)} distinct sha256 over {OUR_RUNS} builds",
        ),
        Result(
            name="build_cpu_speedup_vs_seed_tar",
            value=round(statistics.median(our_cpu), 3),
            unit="cpu-s",
            baseline=round(seed_cpu[0], 3),
            ratio=round(seed_cpu[0] / statistics.median(our_cpu), 2),
            note="the same comparison in CPU seconds (user+sys, all threads): what the build costs whatever else "
            f"shares the machine (load average {os.getloadavg()[0]:.1f} at the end of this run)",
        ),
        Result(
            name="build_vs_uncompressed_tar",
            value=round(our_time, 3),
            unit="s",
            baseline=round(plain_time, 3),
            ratio=round(plain_time / our_time, 2),
            note="ratio = `tar -cf` (no compression: the I/O limit) time / hubdeploy build time; 1.0 would mean "
            "compression, hashing and lambda.zip cost nothing",
        ),
        Result(
            name="build_peak_rss_growth",
            value=round(max(0.0, rss_peak - rss_before), 1),
            unit="MiB",
            note=f"growth of this process's peak RSS over {OUR_RUNS} builds of a {weights_mib:.0f} MiB folder "
            "(streaming: stays far below the weights' size)",
        ),
        Result(
            name="republish_bytes_uploaded",
            value=float(second_bytes),
            unit="bytes",
            baseline=float(first_bytes),
            note="bytes sent by the second publish of the same build to moto S3 (first publish in baseline); must be 0",
        ),
    ]
