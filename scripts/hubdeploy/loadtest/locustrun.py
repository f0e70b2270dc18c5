"""Run a load test with Locust as a library: an `Environment` with one `LocalRunner`, headless, in this process.

The only module that imports Locust, and only inside `require_locust` and `run_load`: importing it patches the
standard library with gevent, which no other command must see. Each user is a closed-loop client (`FastHttpUser`,
TLS verified): it sends POST /sentiment, reads the answer, waits `think_time`, sends the next. The run stops at
the duration or at `max_requests` sent, whichever comes first; users finish the request in flight (at most
`timeout`), and a hard timeout ends it whatever happens.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from hubdeploy.errors import LoadTestError
from hubdeploy.loadtest.options import LoadOptions
from hubdeploy.loadtest.report import THROTTLED, LoadReport, Recorder, answer_problem
from hubdeploy.loadtest.target import LoadTarget

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0


def require_locust() -> ModuleType:
    """Import Locust (which patches the standard library with gevent), or say how to install it.

    Raises:
        LoadTestError: Locust is not installed (`make cli` leaves it out).
    """
    try:
        import locust
    except ImportError:
        raise LoadTestError(
            "hubdeploy loadtest needs Locust, which the CLI's own dependencies (make cli) leave out",
            hint="pip install -e '.[loadtest]' (make venv installs it too)",
        ) from None
    return locust


def request_bodies(texts: list[str], per_request: int) -> list[bytes]:
    """One body per starting sentence: `per_request` consecutive texts, wrapping around, as the API takes them."""
    return [
        json.dumps({"texts": [texts[(start + i) % len(texts)] for i in range(per_request)]}).encode()
        for start in range(len(texts))
    ]


def _error_message(body: bytes | None) -> str:
    """The API's error `code`/`message` (`{"message", "code", "request_id"}`), for the summary's problem lines."""
    try:
        data = json.loads(body or b"")
        return str(data.get("code") or data.get("message") or data.get("error") or "")[:120] or "no message"
    except (ValueError, AttributeError):
        return (body or b"")[:80].decode(errors="replace") or "no body"


def run_load(
    target: LoadTarget,
    options: LoadOptions,
    bodies: list[bytes],
    *,
    out: Callable[[str], None] = print,
) -> LoadReport:
    """Run the load test and return what it measured (see the module docstring for how it stops)."""
    require_locust()
    import gevent
    from gevent.event import Event
    from locust import FastHttpUser, task
    from locust.env import Environment

    parts = urlsplit(target.url)
    recorder = Recorder()
    enough = Event()  # set when max_requests have been sent
    sent = itertools.count()
    per_request = options.texts_per_request

    class ApiUser(FastHttpUser):
        host = f"{parts.scheme}://{parts.netloc}"

        def wait_time(self) -> float:
            # once max_requests are sent, users idle (waiting, so the runner stops them at once) until it does
            return max(1.0, options.think_time) if enough.is_set() else options.think_time

        network_timeout = options.timeout
        connection_timeout = options.timeout
        insecure = False  # Locust's default skips TLS verification; a client of the API would not
        max_retries = 0

        @task
        def sentiment(self) -> None:
            n = next(sent)
            if n >= options.max_requests:
                enough.set()
                return
            body = bodies[n % len(bodies)]
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            headers.update(target.authorizer.headers("POST", target.url, body))
            start = time.perf_counter()
            # ASCII JSON (json.dumps escapes the rest): the str sent is the bytes the authorizer signed
            with self.client.post(parts.path, data=body.decode(), headers=headers, catch_response=True) as resp:
                elapsed_ms = (time.perf_counter() - start) * 1000
                status = int(resp.status_code or 0)
                if status == 0:
                    problem: str | None = f"no answer: {type(resp.error).__name__}: {resp.error}"[:160]
                elif 200 <= status < 300:
                    problem = answer_problem(status, resp.content or b"", texts=per_request)
                else:
                    problem = None if status == THROTTLED else _error_message(resp.content)
                recorder.add(status, elapsed_ms, problem)
                if problem:
                    resp.failure(problem)
                else:
                    resp.success()

    env = Environment(user_classes=[ApiUser], stop_timeout=options.timeout, catch_exceptions=True)
    runner = env.create_local_runner()
    started = time.monotonic()

    def progress() -> None:
        while True:
            gevent.sleep(PROGRESS_EVERY_S)
            seconds = time.monotonic() - started
            out(
                f"  {seconds:5.0f} s  {runner.user_count:4d} users  {recorder.requests:7d} requests "
                f"({recorder.requests / seconds:.1f}/s)  {recorder.errors} errors  {recorder.throttles} throttled"
            )

    ticker = gevent.spawn(progress)
    reason, finished = "duration", False
    try:
        with gevent.Timeout(options.hard_timeout, False):  # False: on expiry, leave the block quietly
            runner.start(options.users, spawn_rate=options.spawn_rate)
            if enough.wait(timeout=options.duration):
                reason = "max_requests"
            runner.stop()  # users finish the request in flight (up to stop_timeout), then stop
            finished = True
    finally:
        elapsed = time.monotonic() - started
        ticker.kill(block=False)
        runner.quit()
    notes = []
    if getattr(runner, "cpu_warning_emitted", False):
        notes.append(
            "the load generator itself used over 90% of a CPU: the numbers may be its limit, not the API's "
            "(fewer users per process, or a bigger machine)"
        )
    settings: dict[str, Any] = {
        "env": target.env,
        "url": target.url,
        "auth_mode": target.mode,
        "users": options.users,
        "spawn_rate": options.spawn_rate,
        "duration_s": options.duration,
        "max_requests": options.max_requests,
        "texts_per_request": per_request,
        "think_time_s": options.think_time,
    }
    stopped_by = reason if finished else "timeout"
    return recorder.report(elapsed_s=elapsed, stopped_by=stopped_by, settings=settings, notes=tuple(notes))
