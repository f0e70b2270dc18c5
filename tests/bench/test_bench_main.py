"""`python -m bench`: a full run rewrites .bench/results.json, so no entry of a renamed or removed benchmark lingers
into the committed results; a partial run merges its module's entries in."""

from __future__ import annotations

import sys
import types

import pytest

from bench import __main__ as bench_main
from bench.results import RESULTS_PATH, Result, dump, load

pytestmark = pytest.mark.unit


def test_a_full_run_rewrites_the_results_and_a_partial_run_merges(tmp_path, monkeypatch):
    fake = types.ModuleType("bench.fake")
    fake.run = lambda: [Result("fake_entry", 1.0, "s")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.fake", fake)
    monkeypatch.setattr(bench_main, "MODULES", ("fake",))
    monkeypatch.chdir(tmp_path)
    RESULTS_PATH.parent.mkdir()
    dump([Result("old_renamed_entry", 2.0, "s")], RESULTS_PATH)

    assert bench_main.main(["fake"]) == 0
    assert [r.name for r in load(RESULTS_PATH)] == ["old_renamed_entry", "fake_entry"]
    assert bench_main.main([]) == 0
    assert [r.name for r in load(RESULTS_PATH)] == ["fake_entry"]
