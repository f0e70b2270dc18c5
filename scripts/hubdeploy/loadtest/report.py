"""What a load test measured, from one record per request: requests/s, latency percentiles, statuses, throttles.

Plain Python (no Locust), so it is tested on its own. An *error* is any answer but a well-formed 2xx and any
request that got no HTTP answer; a *throttle* (429, API Gateway's or Lambda's "slow down") is counted apart,
because it says the stage's or the account's limits were reached, not that the API is broken.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubdeploy.fsutil import atomic_write_json

THROTTLED = 429
NO_ANSWER = "no answer"  # connection refused/reset, timeout: the status bucket of a request without HTTP answer


def answer_problem(status: int, body: bytes, *, texts: int) -> str | None:
    """Why a 2xx answer is not what POST /sentiment promises (`{"data": [one result per text]}`), else None."""
    if not 200 <= status < 300:
        return None
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return "bad answer: not a JSON object"
    if not isinstance(data, list) or len(data) != texts:
        return f"bad answer: {len(data) if isinstance(data, list) else 'no'} results for {texts} texts"
    return None


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of ascending `sorted_values` (0 for none): the smallest value >= p% of them."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Recorder:
    """Collects one record per finished request (called from Locust's request event)."""

    latencies_ms: list[float] = field(default_factory=list)  # every HTTP answer's, any status
    statuses: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)  # the reason of each error, for the summary

    def add(self, status: int, elapsed_ms: float, problem: str | None = None) -> None:
        """One request: its HTTP status (0: no answer), how long it took, and what was wrong with it, if anything
        (a 2xx answer of the wrong shape, an error answer's message, why there was no answer)."""
        if status <= 0:
            self.statuses[NO_ANSWER] += 1
            self.problems[problem or NO_ANSWER] += 1
            return
        self.latencies_ms.append(elapsed_ms)
        if problem and 200 <= status < 300:
            self.statuses[f"{status} (bad answer)"] += 1
            self.problems[problem] += 1
            return
        self.statuses[str(status)] += 1
        if problem and not 200 <= status < 300 and status != THROTTLED:
            self.problems[f"HTTP {status}: {problem}"] += 1

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def throttles(self) -> int:
        return self.statuses.get(str(THROTTLED), 0)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not _ok(status) and status != str(THROTTLED))

    def report(
        self, *, elapsed_s: float, stopped_by: str, settings: dict[str, Any], notes: tuple[str, ...] = ()
    ) -> LoadReport:
        ordered = sorted(self.latencies_ms)
        requests = self.requests
        return LoadReport(
            requests=requests,
            elapsed_s=elapsed_s,
            requests_per_s=requests / elapsed_s if elapsed_s > 0 else 0.0,
            latency_ms={
                "p50": percentile(ordered, 50),
                "p95": percentile(ordered, 95),
                "p99": percentile(ordered, 99),
                "max": ordered[-1] if ordered else 0.0,
                "mean": sum(ordered) / len(ordered) if ordered else 0.0,
            },
            statuses=dict(sorted(self.statuses.items())),
            errors=self.errors,
            throttles=self.throttles,
            problems=dict(self.problems.most_common(5)),
            stopped_by=stopped_by,
            settings=settings,
            notes=notes,
        )


def _ok(status: str) -> bool:
    return status.isdigit() and 200 <= int(status) < 300


@dataclass(frozen=True)
class LoadReport:
    """The summary a user sizes instances with; `to_json` is the file `hubdeploy loadtest` writes."""

    requests: int
    elapsed_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]  # "200", "429", "502", "no answer", "200 (bad answer)" -> count
    errors: int
    throttles: int
    problems: dict[str, int]
    stopped_by: str  # "duration", "max_requests" or "timeout"
    settings: dict[str, Any]  # env, url, users, duration, ... as run
    notes: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def error_statuses(self) -> dict[str, int]:
        """The statuses counted as errors (not 2xx answers of the promised shape, not 429)."""
        return {s: n for s, n in self.statuses.items() if not _ok(s) and s != str(THROTTLED)}

    def to_json(self) -> dict[str, Any]:
        return {
            **self.settings,
            "requests": self.requests,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_s": round(self.requests_per_s, 2),
            "latency_ms": {k: round(v, 1) for k, v in self.latency_ms.items()},
            "statuses": self.statuses,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "throttles": self.throttles,
            "problems": self.problems,
            "stopped_by": self.stopped_by,
            "notes": list(self.notes),
        }

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())

    def lines(self) -> list[str]:
        """The summary table."""
        lat = self.latency_ms
        statuses = ", ".join(f"{status}: {n}" for status, n in self.statuses.items()) or "none"
        rows = [
            ("requests", f"{self.requests} in {self.elapsed_s:.1f} s ({self.requests_per_s:.1f} requests/s)"),
            (
                "latency",
                f"p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms",
            ),
            ("statuses", statuses),
            ("errors", f"{self.errors} ({self.error_rate:.2%})"),
            ("throttled", f"{self.throttles} (HTTP 429, not counted as errors)"),
            ("stopped by", self.stopped_by),
        ]
        rows += [("problem", f"{n} x {reason}") for reason, n in self.problems.items()]
        rows += [("note", note) for note in self.notes]
        return [f"{name:<11} {value}" for name, value in rows]
