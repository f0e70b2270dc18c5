"""Logging set-up, GitHub Actions annotations, and a byte progress reporter."""

from __future__ import annotations

import logging
import sys
import threading
import time

# Set once by setup_logging from Settings.in_github_actions: annotations instead of log lines.
_in_github_actions = False


def setup_logging(*, debug: bool = False, github_actions: bool = False) -> None:
    """Plain `level: message` lines on stderr; DEBUG with --debug; annotations when running in Actions."""
    global _in_github_actions
    _in_github_actions = github_actions
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(levelname)s: %(message)s" if not debug else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Keep third-party chatter out of the user's way unless debugging (huggingface_hub logs every request
    # at INFO through httpx2).
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "filelock", "httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def annotate(level: str, message: str, *, title: str | None = None) -> None:
    """Emit a GitHub `::warning::`/`::error::` annotation when running in Actions, else log it."""
    if _in_github_actions:
        prefix = f"::{level} title={title}::" if title else f"::{level}::"
        print(prefix + message.replace("\n", "%0A"), file=sys.stderr, flush=True)
    else:
        logging.getLogger("hubdeploy").log(logging.ERROR if level == "error" else logging.WARNING, message)


def warn(message: str, *, title: str | None = None) -> None:
    """A warning the user must see, as an annotation in Actions."""
    annotate("warning", message, title=title)


class ByteProgress:
    """Thread-safe progress callback for boto3 transfers: logs at most once a second, and at the end."""

    def __init__(self, label: str, total: int, *, logger: logging.Logger | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._last = 0.0
        self._log = logger or logging.getLogger("hubdeploy.progress")

    def __call__(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
            now = time.monotonic()
            if now - self._last >= 1.0 or self.done >= self.total:
                self._last = now
                pct = 100.0 * self.done / self.total if self.total else 100.0
                self._log.info("%s: %s / %s (%.0f%%)", self.label, human_bytes(self.done), human_bytes(self.total), pct)


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
