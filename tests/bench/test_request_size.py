"""The worst-case request benchmark, run small (tiny model, one round): it measures what it says, through the
real serving path, and its output feeds the table update. Tested, not timed: no assertion on the numbers."""

from __future__ import annotations

import json
import os

import pytest

from bench import request_limits, request_size
from bench.results import save

pytestmark = pytest.mark.model


def test_worst_case_texts_are_distinct_and_exactly_as_long_as_asked():
    texts = request_size.worst_case_texts(3, 3072)
    assert [len(t) for t in texts] == [3072] * 3
    assert len(set(texts)) == 3


def test_the_worst_case_request_is_the_largest_cpu_entry_of_the_table():
    table = request_limits.load_table()
    n_texts, n_chars = request_size.worst_case_request(table)
    cpu = {k: v for k, v in table["derived"].items() if not table["families"][request_limits.family_of(k)].get("gpu")}
    assert n_texts == max(e["limits"]["max_texts"] for e in cpu.values())
    assert n_chars == table["assumptions"]["max_tokens"] * table["assumptions"]["chars_per_token"]


def test_a_small_run_measures_truncated_sequences_and_feeds_the_table(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBDEPLOY_NUM_THREADS", "7")
    measurement = request_size.measure(tiny_model_dir, n_texts=2, n_chars=3072, threads=(1, 2), rounds=1)

    assert measurement["tokens_per_sequence"] == 512  # FinBERT's limit: every text was cut to it
    assert set(measurement["seconds_per_sequence"]) == set(measurement["seconds_per_sequence_max"]) == {"1", "2"}
    assert set(measurement["cpu_seconds_per_sequence"]) == {"1", "2"}
    assert measurement["texts_per_request"] == 2 and measurement["rounds"] == 1
    assert 3 < measurement["chars_per_token_financial_sentences"] < 6
    assert measurement["torch"] and measurement["machine"] and measurement["date"]
    assert json.loads(json.dumps(measurement)) == measurement
    assert os.environ["HUBDEPLOY_NUM_THREADS"] == "7", "the thread setting is restored"

    table = request_limits.with_measurement(request_limits.load_table(), measurement)
    assert table["derived"] == request_limits.derive(table)
    rows = request_size.results(measurement)
    assert [r.name for r in rows] == ["request_worst_case_1_thread", "request_worst_case_2_thread"]
    saved = json.loads(save(rows, tmp_path / "results.json").read_text())
    assert {r["name"] for r in saved} == {r.name for r in rows}


def test_texts_too_short_to_truncate_are_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="nothing is truncated"):
        request_size.measure(tiny_model_dir, n_texts=1, n_chars=200, threads=(1,), rounds=1)


def test_the_bench_runs_it():
    from bench.__main__ import MODULES

    assert "request_size" in MODULES
