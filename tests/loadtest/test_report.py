"""The load test's numbers: nearest-rank percentiles, status buckets, throttles apart from errors, the JSON."""

from __future__ import annotations

import json

import pytest

from hubdeploy.loadtest.report import LoadReport, Recorder, answer_problem, percentile

pytestmark = pytest.mark.unit


def report_of(recorder: Recorder, elapsed_s: float = 10.0) -> LoadReport:
    return recorder.report(elapsed_s=elapsed_s, stopped_by="duration", settings={"env": "dev", "users": 2})


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0
    # a slow tail shows in p99, not in p50
    assert percentile(sorted([10.0] * 98 + [900.0, 1000.0]), 99) == 900.0


def test_statuses_are_bucketed_and_throttles_are_not_errors():
    recorder = Recorder()
    for ms in (10.0, 20.0, 30.0, 40.0):
        recorder.add(200, ms)
    recorder.add(429, 5.0)
    recorder.add(429, 5.0)
    recorder.add(502, 50.0, "ModelError")
    recorder.add(0, 0.0, "no answer: ConnectionRefusedError")
    recorder.add(200, 15.0, "bad answer: 0 results for 1 texts")
    report = report_of(recorder, elapsed_s=4.5)
    assert report.statuses == {"200": 4, "200 (bad answer)": 1, "429": 2, "502": 1, "no answer": 1}
    assert (report.requests, report.errors, report.throttles) == (9, 3, 2)
    assert report.error_statuses() == {"200 (bad answer)": 1, "502": 1, "no answer": 1}
    assert report.requests_per_s == pytest.approx(2.0)
    assert report.error_rate == pytest.approx(3 / 9)
    assert report.problems == {
        "HTTP 502: ModelError": 1,
        "no answer: ConnectionRefusedError": 1,
        "bad answer: 0 results for 1 texts": 1,
    }
    # latency covers every HTTP answer (8), not the request that got none
    assert report.latency_ms["max"] == 50.0 and report.latency_ms["p50"] == 15.0


def test_json_and_table_say_the_same():
    recorder = Recorder()
    for ms in range(1, 201):
        recorder.add(200, float(ms))
    recorder.add(429, 3.0)
    report = report_of(recorder, elapsed_s=20.0)
    data = json.loads(json.dumps(report.to_json()))
    assert data["env"] == "dev" and data["users"] == 2 and data["stopped_by"] == "duration"
    assert (data["requests"], data["errors"], data["throttles"], data["requests_per_s"]) == (201, 0, 1, 10.05)
    assert data["latency_ms"]["p95"] == 190.0 and data["latency_ms"]["p99"] == 198.0
    table = "\n".join(report.lines())
    assert "201 in 20.0 s (10.1 requests/s)" in table
    assert "p50 100 ms, p95 190 ms, p99 198 ms, max 200 ms" in table
    assert "throttled   1 (HTTP 429, not counted as errors)" in table
    assert "errors      0 (0.00%)" in table


def test_an_empty_run_reports_zeros():
    report = report_of(Recorder(), elapsed_s=0.0)
    assert (report.requests, report.requests_per_s, report.error_rate) == (0, 0.0, 0.0)
    assert report.latency_ms == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}


@pytest.mark.parametrize(
    ("status", "body", "texts", "problem"),
    [
        (200, b'{"data": [{"label": "POSITIVE", "score": 0.9}], "request_id": "r"}', 1, None),
        (200, b'{"data": [{"label": "POSITIVE", "score": 0.9}]}', 2, "bad answer: 1 results for 2 texts"),
        (200, b"<html>proxy page</html>", 1, "bad answer: not a JSON object"),
        (200, b"[1, 2]", 1, "bad answer: not a JSON object"),
        (200, b'{"message": "ok"}', 1, "bad answer: no results for 1 texts"),
        (502, b"not json", 1, None),  # an error status is an error by its status, not by its body
    ],
)
def test_a_2xx_must_have_one_result_per_text(status, body, texts, problem):
    assert answer_problem(status, body, texts=texts) == problem
