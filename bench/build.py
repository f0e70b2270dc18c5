"""`make bench` for the artifact pipeline: `hubdeploy build` against the seed recipe, as whole processes.

Five contenders pack the same model folder (bench/buildfolder.py: weights, tokenizer, config, code/), each a
fresh process exactly as a user starts it, so the CLI's interpreter start-up and imports count:
- `hubdeploy build --env dev --model-dir FOLDER --out DIR` (weights stored, the rest deflated by isal; plus
  lambda.zip, the manifest and the archive's sha256), with this checkout's scripts/ first on PYTHONPATH, its
  input files' digests recorded by an earlier build (artifacts/digests.py), as they are at every build but a
  folder's first (and after `hubdeploy fetch`),
- the same with `--rehash`: every input file hashed again, as at a folder's first build,
- the seed recipe `tar -czvf model.tar.gz -C FOLDER .` (gzip -6, one thread),
- `tar -cf` without compression: the I/O limit no packer can beat,
- `tar -cf - . | gzip -1` through bash: the fastest gzip a shell one-liner gets.
After an untimed warm-up round (which records the digests, once the folder's files are RACY_NS old, as the
record requires), each round runs all five in turn, the first rotating from round to round, with the folder in the
page cache and `sync` before every run (no contender pays for another's dirty pages).
Wall time, CPU seconds and peak RSS are the child's own (bench/processes.py). Then the last build is
published twice to an in-process moto S3, counting the bytes the second publish sends (must be 0).

HUBDEPLOY_BENCH_BUILD_MIB=N packs a synthetic folder of N MiB of weights instead of the BERT-base stand-in, and
HUBDEPLOY_BENCH_BUILD_RUNS=R sets the rounds (default 5): the tests run 4 MiB, 2 rounds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import buildfolder
from bench.processes import timed_process
from bench.results import Result
from bench.standin import CACHE, REPO_ROOT, base_standin
from hubdeploy.artifacts.digests import RACY_NS
from hubdeploy.errors import UsageError
from hubdeploy.settings import DIGEST_RECORD_VAR

RUNS = 5
SIZE_VAR = "HUBDEPLOY_BENCH_BUILD_MIB"
RUNS_VAR = "HUBDEPLOY_BENCH_BUILD_RUNS"
RUNS_PATH = Path(".bench") / "build_runs.json"  # every timed run, for whoever doubts a median
TARGET_SPEEDUP = 25.0  # issue 13: seed time / build time
TARGET_OVER_PLAIN_TAR = 1.5  # issue 13: build time / `tar -cf` time
ENV = "dev"  # --model-dir is allowed for every env when only building; dev's pin names the model id
BUCKET = "bench-artifacts"
OURS, REHASH, SEED, TAR, GZIP1 = "hubdeploy", "hubdeploy_rehash", "seed", "tar", "tar_gzip1"
DIGEST_RECORD = "digests.json"  # in the scratch folder: every run of the benchmark starts with an empty record
MODEL_ARCHIVE, LAMBDA_ARCHIVE = "model.tar.gz", "lambda.zip"


@dataclass(frozen=True)
class Contender:
    key: str
    shown: str  # the command as a user types it
    argv: tuple[str, ...]
    output: Path  # what it writes: removed before each run, so every run writes afresh


@dataclass(frozen=True)
class Run:
    contender: str
    round: int
    position: int  # 0 = first in its round
    wall_seconds: float
    cpu_seconds: float
    max_rss_bytes: int


@dataclass(frozen=True)
class Measurement:
    folder: str  # what was packed, for the notes
    folder_bytes: int
    shown: dict[str, str]
    runs: tuple[Run, ...]
    archive_bytes: dict[str, int]
    lambda_bytes: int
    distinct_digests: int  # of hubdeploy's model.tar.gz over all its runs: 1 = byte-reproducible
    load_average: tuple[float, float]
    rss_exact: bool  # peak RSS from GNU time (True) or an upper bound from wait4 (bench/processes.py)

    @property
    def rounds(self) -> int:
        return 1 + max(r.round for r in self.runs)

    def walls(self, key: str) -> list[float]:
        return [r.wall_seconds for r in self.runs if r.contender == key]

    def median(self, key: str) -> float:
        return statistics.median(self.walls(key))

    def cpu(self, key: str) -> float:
        return statistics.median(r.cpu_seconds for r in self.runs if r.contender == key)

    def max_rss_mib(self, key: str) -> float:
        return max(r.max_rss_bytes for r in self.runs if r.contender == key) / 2**20


def hubdeploy_command() -> str:
    """The `hubdeploy` console script of the running venv: what `make venv`/`pip install` put on PATH."""
    script = Path(sys.executable).parent / "hubdeploy"
    if not script.is_file():
        raise UsageError(f"no hubdeploy console script next to {sys.executable}", hint="run `make venv` first")
    return str(script)


def contenders(folder: Path, scratch: Path, *, hubdeploy: str) -> list[Contender]:
    out, rehashed = scratch / "hubdeploy-out", scratch / "hubdeploy-rehash-out"
    plain, seed, gz1 = scratch / "plain.tar", scratch / "seed.tar.gz", scratch / "gzip1.tar.gz"
    pipeline = 'tar -cf - -C "$1" . | gzip -1 > "$2"'
    return [
        Contender(
            OURS,
            f"hubdeploy build --env {ENV} --model-dir FOLDER --out DIR",
            (hubdeploy, "build", "--env", ENV, "--model-dir", str(folder), "--out", str(out)),
            out,
        ),
        Contender(
            REHASH,
            f"hubdeploy build --env {ENV} --model-dir FOLDER --out DIR --rehash",
            (hubdeploy, "build", "--env", ENV, "--model-dir", str(folder), "--out", str(rehashed), "--rehash"),
            rehashed,
        ),
        Contender(
            SEED, "tar -czvf model.tar.gz -C FOLDER .", ("tar", "-czvf", str(seed), "-C", str(folder), "."), seed
        ),
        Contender(TAR, "tar -cf model.tar -C FOLDER .", ("tar", "-cf", str(plain), "-C", str(folder), "."), plain),
        Contender(
            GZIP1,
            "tar -cf - -C FOLDER . | gzip -1 > model.tar.gz",
            ("bash", "-o", "pipefail", "-c", pipeline, "bash", str(folder), str(gz1)),
            gz1,
        ),
    ]


def child_env(record: Path) -> dict[str, str]:
    """The CLI runs this checkout's code (scripts/ first on the path), offline, against this repository, with the
    benchmark's own digest record."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT / "scripts"), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "HUBDEPLOY_ROOT": str(REPO_ROOT),
        "HF_HUB_OFFLINE": "1",
        DIGEST_RECORD_VAR: str(record),
    }


def settle(folder: Path) -> None:
    """Wait until every file under `folder` last changed RACY_NS ago, so the warm-up build may record its digests
    (a file changed just before its hashing is never recorded: artifacts/digests.py)."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in folder.rglob("*") if p.is_file())
    time.sleep(max(0.0, (newest + RACY_NS - time.time_ns()) / 1e9) + 0.05)


def check_recorded(folder: Path, record: Path) -> None:
    """The warm runs are warm only if the warm-up recorded every model file (code/ is the seed's: hubdeploy packs
    the repository's model/code): fail the benchmark rather than report warm and cold builds under one name."""
    recorded = set(json.loads(record.read_text())["files"]) if record.is_file() else set()
    missing = [p.name for p in folder.iterdir() if p.is_file() and os.path.realpath(p) not in recorded]
    if missing:
        raise UsageError(
            f"the warm-up build recorded no digest for {', '.join(sorted(missing))} in {record}",
            hint="something changed the bench folder while it ran: run the benchmark again",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _archive(c: Contender) -> Path:
    return c.output / MODEL_ARCHIVE if c.key in (OURS, REHASH) else c.output


def measure(folder: Path, contenders: list[Contender], *, rounds: int, description: str, record: Path) -> Measurement:
    """An untimed warm-up round (page cache, .pyc files, digests), then rounds 0 .. rounds-1, timed, the first
    rotating."""
    settle(folder)
    load_before = os.getloadavg()[0]
    env = child_env(record)
    runs: list[Run] = []
    digests: set[str] = set()
    exact = True
    for round_ in range(-1, rounds):
        shift = max(round_, 0) % len(contenders)
        for position, c in enumerate(contenders[shift:] + contenders[:shift]):
            _remove(c.output)
            buildfolder.warm(folder)  # cheap when cached; puts back whatever the other contenders' writes evicted
            os.sync()  # start every run with no dirty pages of an earlier one waiting to be written
            done = timed_process(c.argv, env=env)
            exact = exact and done.rss_exact
            if c.key in (OURS, REHASH):
                digests.add(_sha256(_archive(c)))
            if round_ < 0 and c.key == OURS:
                check_recorded(folder, record)
            if round_ >= 0:
                runs.append(Run(c.key, round_, position, done.wall_seconds, done.cpu_seconds, done.max_rss_bytes))
    ours = next(c for c in contenders if c.key == OURS)
    return Measurement(
        folder=description,
        folder_bytes=buildfolder.folder_bytes(folder),
        shown={c.key: c.shown for c in contenders},
        runs=tuple(runs),
        archive_bytes={c.key: _archive(c).stat().st_size for c in contenders},
        lambda_bytes=(ours.output / LAMBDA_ARCHIVE).stat().st_size,
        distinct_digests=len(digests),
        load_average=(load_before, os.getloadavg()[0]),
        rss_exact=exact,
    )


def republish_bytes(artifacts: Path) -> tuple[int, int]:
    """Publish the build twice to moto; bytes sent by the first and the second publish."""
    import boto3
    from moto import mock_aws

    from hubdeploy.artifacts import publish

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    sent = {"bytes": 0}

    def count(params: dict[str, Any], **_: Any) -> None:
        body: Any = params.get("Body")  # the API parameter, before botocore wraps it
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
            for name, prefix in ((MODEL_ARCHIVE, "bench--model"), (LAMBDA_ARCHIVE, "lambda")):
                publish.publish_file(s3, bucket=BUCKET, path=artifacts / name, prefix=prefix, tags={})
            totals.append(sent["bytes"])
    return totals[0], totals[1]


def _mib(n: float) -> float:
    return round(n / 2**20, 2)


def results(m: Measurement, *, republished: tuple[int, int]) -> list[Result]:
    ours, rehash, seed, tar, gz1 = (m.median(k) for k in (OURS, REHASH, SEED, TAR, GZIP1))
    lo = {k: min(m.walls(k)) for k in (OURS, REHASH, SEED, TAR, GZIP1)}
    how = (
        f"{m.folder} ({_mib(m.folder_bytes):g} MiB folder); whole processes, median of {m.rounds} rounds taking turns "
        f"(first rotating) after a warm-up round, warm page cache, synced before each run; load average "
        f"{m.load_average[0]:.1f} -> {m.load_average[1]:.1f}; every run in {RUNS_PATH}"
    )
    rss_how = "GNU time %M" if m.rss_exact else "os.wait4 ru_maxrss, an upper bound: no /usr/bin/time"
    sizes = ", ".join(f"`{m.shown[k]}` {_mib(m.archive_bytes[k]):g} MiB" for k in (OURS, SEED, TAR, GZIP1))
    return [
        Result(
            "build_speedup_vs_seed_tar",
            round(ours, 3),
            "s",
            baseline=round(seed, 3),
            ratio=round(seed / ours, 2),
            note=f"ratio = seed `{m.shown[SEED]}` time / `{m.shown[OURS]}` time (higher is better), the inputs' "
            f"digests recorded by an earlier build; minima {lo[SEED]:.3g} s / {lo[OURS]:.3g} s = "
            f"{lo[SEED] / lo[OURS]:.3g}x; a folder's first build (`--rehash`) {seed / rehash:.3g}x; {how}",
            target_op=">=",
            target_value=TARGET_SPEEDUP,
        ),
        Result(
            "build_time_over_uncompressed_tar",
            round(ours, 3),
            "s",
            baseline=round(tar, 3),
            ratio=round(ours / tar, 2),
            note=f"ratio = hubdeploy build time / `{m.shown[TAR]}` time (no compression: the I/O limit; lower is "
            f"better, 1.0 = start-up, compression, hashing and lambda.zip cost nothing), the inputs' digests "
            f"recorded by an earlier build (or fetch), so only the archive is hashed; minima {lo[OURS]:.3g} s / "
            f"{lo[TAR]:.3g} s",
            target_op="<=",
            target_value=TARGET_OVER_PLAIN_TAR,
        ),
        Result(
            "build_rehash_time_over_uncompressed_tar",
            round(rehash, 3),
            "s",
            baseline=round(tar, 3),
            ratio=round(rehash / tar, 2),
            note=f"ratio = `{m.shown[REHASH]}` time / `{m.shown[TAR]}` time: a folder's first build, every input "
            f"file hashed as well as the archive (two sha256 passes over the weights); the same target as the warm "
            f"build's; minima {lo[REHASH]:.3g} s / {lo[TAR]:.3g} s; CPU {m.cpu(REHASH):.3g} cpu-s",
            target_op="<=",
            target_value=TARGET_OVER_PLAIN_TAR,
        ),
        Result(
            "build_speedup_vs_tar_gzip1_pipeline",
            round(ours, 3),
            "s",
            baseline=round(gz1, 3),
            ratio=round(gz1 / ours, 2),
            note=f"ratio = `{m.shown[GZIP1]}` (bash pipeline) time / hubdeploy build time (higher is better); "
            f"minima {lo[GZIP1]:.3g} s / {lo[OURS]:.3g} s",
        ),
        Result(
            "build_cpu_seconds_vs_seed_tar",
            round(m.cpu(OURS), 3),
            "cpu-s",
            baseline=round(m.cpu(SEED), 3),
            ratio=round(m.cpu(SEED) / m.cpu(OURS), 2),
            note="ratio = seed CPU seconds / hubdeploy build CPU seconds (user+sys of the process, all threads and "
            f"waited-for children; medians): what a build costs whatever else shares the machine; `--rehash` "
            f"{m.cpu(REHASH):.3g} cpu-s, `tar -cf` {m.cpu(TAR):.3g} cpu-s, the gzip -1 pipeline "
            f"{m.cpu(GZIP1):.3g} cpu-s",
        ),
        Result(
            "build_archive_size_vs_seed",
            _mib(m.archive_bytes[OURS]),
            "MiB",
            baseline=_mib(m.archive_bytes[SEED]),
            ratio=round(m.archive_bytes[OURS] / m.archive_bytes[SEED], 3),
            note=f"ratio = hubdeploy's model.tar.gz size / the seed's (lower is smaller); {sizes}; lambda.zip "
            f"{m.lambda_bytes / 1024:.1f} KiB besides; {m.distinct_digests} distinct sha256 over "
            f"{m.rounds + 1} builds (1 = byte-reproducible)",
        ),
        Result(
            "build_peak_rss",
            round(m.max_rss_mib(OURS), 1),
            "MiB",
            note=f"largest peak RSS of the `hubdeploy build` process over its runs ({rss_how}: interpreter, imports "
            f"and buffers) for a {_mib(m.folder_bytes):g} MiB folder; streaming keeps it flat in the folder size; "
            f"seed tar {m.max_rss_mib(SEED):.1f} MiB",
        ),
        Result(
            "republish_bytes_uploaded",
            float(republished[1]),
            "bytes",
            baseline=float(republished[0]),
            note="bytes sent by the second publish of the same build to moto S3 (the first publish's in baseline)",
            target_op="<=",
            target_value=0.0,
        ),
    ]


def _env_number(name: str, default: float | None, *, integer: bool) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        what = "a whole number of rounds, e.g. 5" if integer else "a number of MiB, e.g. 4 (unset: BERT-base)"
        raise UsageError(f"{name}={raw!r} is not a positive number", hint=f"set it to {what}, or unset it")
    return value


def run(
    *, weights_mib: float | None = None, rounds: int | None = None, work: Path = CACHE, runs_path: Path = RUNS_PATH
) -> list[Result]:
    """The build entries; `weights_mib` (else HUBDEPLOY_BENCH_BUILD_MIB) packs a synthetic folder, not BERT-base."""
    from hubdeploy.artifacts import archive

    weights_mib = weights_mib or _env_number(SIZE_VAR, None, integer=False)
    rounds = int(rounds or _env_number(RUNS_VAR, RUNS, integer=True) or RUNS)
    code_dir = REPO_ROOT / "model" / "code"
    archive.validate_code_dir(code_dir)  # ArtifactError if inference.py or requirements.txt is missing
    archive.validate_lambda_dir(REPO_ROOT / "lambda")  # and if lambda/handler.py is
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "build-model"
    if weights_mib is None:
        description = "BERT-base stand-in"
        buildfolder.from_standin(folder, standin=base_standin(), code_dir=code_dir, code_names=archive.REQUIRED_CODE)
    else:
        description = f"synthetic folder, {weights_mib:g} MiB of weights"
        buildfolder.synthetic(folder, weights_mib=weights_mib, code_dir=code_dir, code_names=archive.REQUIRED_CODE)
    scratch = work / "build-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        racers = contenders(folder, scratch, hubdeploy=hubdeploy_command())
        print(f"   timing {', '.join(c.shown for c in racers)}: {rounds} rounds", flush=True)
        m = measure(folder, racers, rounds=rounds, description=description, record=scratch / DIGEST_RECORD)
        print("   publishing the build twice to moto", flush=True)
        republished = republish_bytes(racers[0].output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    runs_path.parent.mkdir(parents=True, exist_ok=True)
    runs_path.write_text(json.dumps({"commands": m.shown, "runs": [asdict(r) for r in m.runs]}, indent=1) + "\n")
    return results(m, republished=republished)
