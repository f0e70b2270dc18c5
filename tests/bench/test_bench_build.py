"""The build benchmark, run small (a synthetic 4 MiB folder, 2 rounds): `hubdeploy build` and the three tar
recipes run as whole processes taking turns, the entries carry the issue's targets, the second publish sends
nothing. Tested, not timed: the numbers are only checked for sanity, never against the targets."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

import pytest

from bench import build as bench_build
from bench import buildfolder, processes
from bench.processes import ProcessFailed, timed_process
from bench.results import Result
from hubdeploy.artifacts.modelfiles import validate_model_dir
from hubdeploy.errors import UsageError

pytestmark = pytest.mark.unit

ROUNDS = 2
CONTENDERS = {"hubdeploy", "hubdeploy_rehash", "seed", "tar", "tar_gzip1"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Result], dict, Path]:
    work = tmp_path_factory.mktemp("build-bench")
    results = bench_build.run(weights_mib=4, rounds=ROUNDS, work=work, runs_path=work / "runs.json")
    return results, json.loads((work / "runs.json").read_text()), work


def median_wall(runs: dict, contender: str) -> float:
    return statistics.median(r["wall_seconds"] for r in runs["runs"] if r["contender"] == contender)


def test_a_small_run_reports_every_entry_with_the_issue_targets(small_run):
    results, runs, _ = small_run
    by_name = {r.name: r for r in results}

    assert set(by_name) == {
        "build_speedup_vs_seed_tar",
        "build_time_over_uncompressed_tar",
        "build_rehash_time_over_uncompressed_tar",
        "build_speedup_vs_tar_gzip1_pipeline",
        "build_cpu_seconds_vs_seed_tar",
        "build_archive_size_vs_seed",
        "build_peak_rss",
        "republish_bytes_uploaded",
    }
    speedup, over_tar = by_name["build_speedup_vs_seed_tar"], by_name["build_time_over_uncompressed_tar"]
    assert (speedup.target_op, speedup.target_value, speedup.target) == (">=", 25.0, ">= 25x")
    assert (over_tar.target_op, over_tar.target_value, over_tar.target) == ("<=", 1.5, "<= 1.5x")
    # the ratios come from the recorded medians (the shown seconds are rounded to ms: tar -cf of 4 MiB takes ~6)
    ours, seed, tar = (median_wall(runs, k) for k in ("hubdeploy", "seed", "tar"))
    assert speedup.ratio == pytest.approx(seed / ours, abs=0.006)  # seed / ours, rounded to 2 decimals
    assert over_tar.ratio == pytest.approx(ours / tar, abs=0.006)  # ours / tar -cf
    rehash = by_name["build_rehash_time_over_uncompressed_tar"]  # a folder's first build: held to the same target
    assert rehash.ratio == pytest.approx(median_wall(runs, "hubdeploy_rehash") / tar, abs=0.006)
    assert (rehash.target_op, rehash.target_value) == ("<=", 1.5)
    assert "--rehash" in runs["commands"]["hubdeploy_rehash"]
    assert "higher is better" in speedup.note and "lower is better" in over_tar.note
    assert isinstance(speedup.met, bool) and isinstance(over_tar.met, bool)


def test_a_small_run_measures_sane_numbers(small_run):
    results, _, _ = small_run
    by_name = {r.name: r for r in results}

    for name in ("build_speedup_vs_seed_tar", "build_time_over_uncompressed_tar", "build_cpu_seconds_vs_seed_tar"):
        assert by_name[name].value > 0 and by_name[name].baseline > 0
    size = by_name["build_archive_size_vs_seed"]
    assert 3 < size.value < 5 and 3 < size.baseline < 5  # 4 MiB of float32 barely compresses
    assert "1 distinct sha256" in size.note  # every build gave the same bytes
    assert 5 < by_name["build_peak_rss"].value < 1024
    republish = by_name["republish_bytes_uploaded"]
    assert republish.value == 0 and republish.baseline > 3 * 2**20 and republish.met is True


def test_contenders_take_turns_and_the_first_rotates(small_run):
    _, runs, _ = small_run
    timed = runs["runs"]

    assert set(runs["commands"]) == CONTENDERS
    assert runs["commands"]["seed"] == "tar -czvf model.tar.gz -C FOLDER ."
    assert len(timed) == ROUNDS * len(CONTENDERS)
    rounds = [[r["contender"] for r in timed if r["round"] == n] for n in range(ROUNDS)]
    assert all(set(order) == CONTENDERS for order in rounds), "every contender runs once per round"
    assert rounds[0][0] != rounds[1][0], "the first contender rotates"
    assert [r["position"] for r in timed] == list(range(len(CONTENDERS))) * ROUNDS
    assert all(r["wall_seconds"] > 0 and r["max_rss_bytes"] > 0 for r in timed)


def test_the_warm_runs_are_refused_unless_the_warm_up_recorded_every_file(tmp_path):
    folder = buildfolder.synthetic(
        tmp_path / "m", weights_mib=1, code_dir=bench_build.REPO_ROOT / "model" / "code", code_names=("inference.py",)
    )
    record = tmp_path / "digests.json"
    with pytest.raises(UsageError, match="recorded no digest for"):
        bench_build.check_recorded(folder, record)
    files = {os.path.realpath(p): [] for p in folder.rglob("*") if p.is_file()}
    record.write_text(json.dumps({"version": 1, "files": files}))
    bench_build.check_recorded(folder, record)


def test_the_scratch_outputs_are_removed(small_run):
    _, _, work = small_run
    assert not (work / "build-scratch").exists()


def test_the_synthetic_folder_is_a_model_folder_of_the_asked_size(tmp_path):
    folder = buildfolder.synthetic(
        tmp_path / "m", weights_mib=2, code_dir=bench_build.REPO_ROOT / "model" / "code", code_names=("inference.py",)
    )
    files = validate_model_dir(folder)  # what `hubdeploy build --model-dir` accepts
    assert files.weights == ("model.safetensors",)
    header = (folder / "model.safetensors").read_bytes()
    length = int.from_bytes(header[:8], "little")
    meta = json.loads(header[8 : 8 + length])
    assert meta["weight"]["data_offsets"] == [0, 2 * 2**20]
    assert (folder / "model.safetensors").stat().st_size == 8 + length + 2 * 2**20
    assert (folder / "code" / "inference.py").is_file()


def test_a_timed_process_is_measured_alone():
    done = timed_process([sys.executable, "-c", "x = bytearray(200 << 20); x[::4096] = b'1' * len(x[::4096])"])
    assert done.max_rss_bytes > 200 << 20
    assert done.cpu_seconds > 0 and done.wall_seconds > 0
    small = timed_process(["true"])
    assert small.max_rss_bytes < 20 << 20, "the benchmark's own memory is not counted for a small child"


def test_without_gnu_time_the_peak_rss_is_flagged_as_an_upper_bound(monkeypatch, tmp_path):
    monkeypatch.setattr(processes, "GNU_TIME", tmp_path / "no-time")
    done = timed_process(["true"])
    assert done.rss_exact is False and done.max_rss_bytes > 0


def test_a_failing_contender_stops_the_bench_with_its_stderr():
    with pytest.raises(ProcessFailed, match=r"exited with 2: .*No such file"):
        timed_process(["tar", "-cf", "/dev/null", "-C", "/nonexistent-folder", "."])


@pytest.mark.parametrize(("var", "raw"), [("HUBDEPLOY_BENCH_BUILD_MIB", "big"), ("HUBDEPLOY_BENCH_BUILD_RUNS", "0")])
def test_a_bad_size_or_rounds_setting_is_refused_before_anything_runs(monkeypatch, tmp_path, var, raw):
    monkeypatch.setenv(var, raw)
    with pytest.raises(UsageError, match=f"{var}={raw!r} is not a positive number"):
        bench_build.run(work=tmp_path, runs_path=tmp_path / "runs.json")
    assert not (tmp_path / "build-model").exists()
