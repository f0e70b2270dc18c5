"""Time one whole process the way a user runs it: wall time, CPU seconds and peak RSS of that child alone.

`os.wait4` returns the resource usage of the one child it reaps (with the grandchildren that child waited
for: a shell pipeline's tar and gzip), so earlier children (the stand-in's torch build) do not leak into the
numbers, as `getrusage(RUSAGE_CHILDREN)` would let them. Its peak RSS is not the child's alone, though: Linux
keeps the high-water mark of the memory image replaced at exec, and Python spawns with vfork, so a 3 MiB
`tar` reports this benchmark's own 55 MiB. GNU time forks from its own small image: when /usr/bin/time is
there, the command runs under it and its %M is the peak RSS; the wall and CPU times still come from wait4
(time's own share is about a millisecond).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hubdeploy.errors import HubdeployError

STDERR_TAIL = 2000  # characters of a failed process's stderr worth showing
GNU_TIME = Path("/usr/bin/time")


class ProcessFailed(HubdeployError):
    """A timed process exited non-zero: its command, exit code and the end of its stderr."""


@dataclass(frozen=True)
class ProcessRun:
    wall_seconds: float
    cpu_seconds: float  # user + system, every thread, and the children it waited for
    max_rss_bytes: int  # the largest resident set of it or of one of its waited-for children
    rss_exact: bool  # False without GNU time: an upper bound that includes this process's RSS at the spawn


def timed_process(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> ProcessRun:
    """Run `argv` to completion (stdout discarded, as a terminal would only show it) and measure it.

    Raises:
        ProcessFailed: the process exited non-zero; the message carries the end of its stderr.
    """
    with tempfile.TemporaryFile() as stderr, tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss:
        exact = GNU_TIME.is_file()
        command = [str(GNU_TIME), "-f", "%M", "-o", rss.name, *argv] if exact else list(argv)
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        if proc.returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-STDERR_TAIL:].strip()
            raise ProcessFailed(
                f"`{' '.join(argv)}` exited with {proc.returncode}: {tail or '(no stderr)'}",
                hint="run that command by hand to see why; the benchmark needs every contender to succeed",
            )
        # KiB both: GNU time's last line of its -o file, and Linux's ru_maxrss.
        max_rss_kib = int(Path(rss.name).read_text().split()[-1]) if exact else usage.ru_maxrss
    return ProcessRun(
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=max_rss_kib * 1024,
        rss_exact=exact,
    )
