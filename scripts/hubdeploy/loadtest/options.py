"""What one load test may be: how many users, how long, how many requests, and what each request carries."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hubdeploy.errors import UsageError

MAX_USERS = 5000  # one Locust process on one core tops out far below this; a bigger run is a distributed one
MAX_DURATION_S = 3600.0
MAX_REQUESTS = 10_000_000
LOCUST_SPAWN_WARNING = 100.0  # Locust warns above 100 users/s: ramps faster than that misbehave


@dataclass(frozen=True)
class LoadOptions:
    """A validated load test: `users` closed-loop clients for `duration` seconds or `max_requests`, whichever first."""

    users: int
    duration: float
    spawn_rate: float
    max_requests: int
    texts_per_request: int = 1
    think_time: float = 0.0  # seconds a user waits between its answer and its next request
    timeout: float = 30.0  # per request; also how long users may finish the request in flight at the end
    max_error_rate: float = 0.0

    @property
    def hard_timeout(self) -> float:
        """The run ends by then whatever happens: the duration, users finishing in-flight requests, a margin."""
        return self.duration + self.timeout + 30.0


def load_options(
    *,
    users: int,
    duration: float,
    spawn_rate: float | None = None,
    max_requests: int | None = None,
    texts_per_request: int = 1,
    think_time: float = 0.0,
    timeout: float = 30.0,
    max_error_rate: float = 0.0,
    max_texts: int | None = None,
) -> LoadOptions:
    """Check the numbers a user typed; `max_texts` is the API's own limit per request, when known.

    Raises:
        UsageError: a value out of range, naming it and what is allowed.
    """
    checks = [
        (1 <= users <= MAX_USERS, f"--users {users}: must be 1 to {MAX_USERS}", "e.g. --users 50"),
        (
            0 < duration <= MAX_DURATION_S and math.isfinite(duration),
            f"--duration {duration:g}: must be more than 0 and at most {MAX_DURATION_S:.0f} seconds",
            "e.g. --duration 60; run several tests for longer soaks",
        ),
        (
            spawn_rate is None or (spawn_rate > 0 and math.isfinite(spawn_rate)),
            f"--spawn-rate {spawn_rate}: must be more than 0 users per second",
            "leave it out to start every user in the first second",
        ),
        (
            max_requests is None or 1 <= max_requests <= MAX_REQUESTS,
            f"--max-requests {max_requests}: must be 1 to {MAX_REQUESTS}",
            "leave it out to stop at --duration only",
        ),
        (
            1 <= texts_per_request <= (max_texts or texts_per_request),
            f"--texts-per-request {texts_per_request}: must be 1 to "
            + (f"{max_texts} (the API's max_texts)" if max_texts else "the API's max_texts"),
            "the limit is in the env root's request_limits output",
        ),
        (0 <= think_time <= 60, f"--think-time {think_time:g}: must be 0 to 60 seconds", "0 sends back to back"),
        (0 < timeout <= 300, f"--timeout {timeout:g}: must be more than 0 and at most 300 seconds", "e.g. 30"),
        (
            0 <= max_error_rate <= 1,
            f"--max-error-rate {max_error_rate:g}: must be 0 to 1 (a share of requests)",
            "0 fails the run on any error; 0.01 allows 1%",
        ),
    ]
    for ok, message, hint in checks:
        if not ok:
            raise UsageError(message, hint=hint)
    return LoadOptions(
        users=users,
        duration=duration,
        spawn_rate=spawn_rate or min(float(users), LOCUST_SPAWN_WARNING),
        max_requests=max_requests or MAX_REQUESTS,
        texts_per_request=texts_per_request,
        think_time=think_time,
        timeout=timeout,
        max_error_rate=max_error_rate,
    )
