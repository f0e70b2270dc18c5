"""sha256 of input files, remembered while a file is unchanged, so 420 MiB of weights are hashed once, not again
at every fetch and build (git's index trusts an unchanged file the same way for `git status`).

A digest is trusted only while the file's device, inode, size, mtime and ctime are what they were when it was
hashed. Any write, truncate, rename over, chmod or touch changes ctime, and no user-space call can set ctime
back. One race is left: a write within the same timestamp tick as the stat that was recorded. So a digest is
recorded only when the file had not changed for RACY_NS before its hashing began (files changed just before
their hashing are hashed again next time, as git re-checks "racily clean" entries). What this does not catch
is a change that leaves every stat field as it was: silent disk corruption, or someone who sets the clock
back. `hubdeploy build --rehash` hashes everything again for whoever wants that check.

The record is an optimisation, never a source of truth: a missing, unreadable or corrupt record only means
files are hashed again, and a record that cannot be written is a warning, not a failed build. Concurrent
processes merge their entries on save; the last writer wins an entry both wrote, and either value is right.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hubdeploy.fsutil import atomic_write_json

log = logging.getLogger(__name__)

VERSION = 1
RACY_NS = 2_000_000_000  # 2 s: above any local filesystem's timestamp tick (FAT's mtime is the coarsest, 2 s)
MAX_ENTRIES = 512  # the newest are kept: a few models' files, a few KB of JSON
SHA256_HEX = 64


@dataclass(frozen=True)
class Entry:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    hashed_at_ns: int  # the clock when the hashing began, after the stat
    sha256: str

    def matches(self, st: os.stat_result) -> bool:
        return (self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns) == (
            st.st_dev,
            st.st_ino,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
        )


class DigestRecord:
    """The digests recorded in `path` (None: remember nothing); `trust=False` hashes everything again."""

    def __init__(self, path: Path | None, *, trust: bool = True, clock: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.trust = trust
        self.clock = clock
        self.entries: dict[str, Entry] = _load(path) if path is not None else {}
        self.fresh: dict[str, Entry] = {}  # hashed by this process: what save() adds

    def known(self, path: Path, st: os.stat_result) -> str | None:
        """The recorded sha256 of `path` if its stat `st` is unchanged since it was hashed, else None."""
        if not self.trust:
            return None
        entry = self.entries.get(_key(path))
        return entry.sha256 if entry is not None and entry.matches(st) else None

    def started(self) -> int:
        """The clock reading to pass to `remember`, taken after the stat and before the first byte is read."""
        return self.clock()

    def remember(self, path: Path, st: os.stat_result, sha256: str, *, hashed_at_ns: int) -> None:
        """Record `sha256` for `path` as it was at `st`, unless it changed too close to `hashed_at_ns`."""
        if max(st.st_mtime_ns, st.st_ctime_ns) > hashed_at_ns - RACY_NS:
            return  # changed just before the hashing began: a same-tick write could hide behind this stat
        entry = Entry(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, hashed_at_ns, sha256)
        self.entries[_key(path)] = self.fresh[_key(path)] = entry

    def save(self) -> None:
        """Merge this process's entries into the record on disk (re-read, so a concurrent save is kept)."""
        if self.path is None or not self.fresh:
            return
        merged = {**_load(self.path), **self.fresh}
        newest = sorted(merged.items(), key=lambda item: item[1].hashed_at_ns, reverse=True)[:MAX_ENTRIES]
        payload = {"version": VERSION, "files": {key: _dump(entry) for key, entry in sorted(newest)}}
        try:
            atomic_write_json(self.path, payload)
        except OSError as exc:
            log.warning("could not save the digest record %s (%s): files will be hashed again", self.path, exc)
        self.fresh = {}


@contextlib.contextmanager
def opened(path: Path | None, *, trust: bool = True) -> Iterator[DigestRecord]:
    """A record for the duration of a command; what it learned is saved when the block ends, even on an error
    (a digest is a fact about a file, whether or not the build that computed it succeeded)."""
    record = DigestRecord(path, trust=trust)
    try:
        yield record
    finally:
        record.save()


def _key(path: Path) -> str:
    return os.path.realpath(path)  # the HF cache's snapshot links and the blob they name share one entry


def _dump(entry: Entry) -> list[int | str]:
    return [entry.dev, entry.ino, entry.size, entry.mtime_ns, entry.ctime_ns, entry.hashed_at_ns, entry.sha256]


def _load(path: Path) -> dict[str, Entry]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable digest record %s (%s): files will be hashed again", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("files"), dict):
        log.warning("ignoring the digest record %s: not a version %d record", path, VERSION)
        return {}
    entries = {}
    for key, value in data["files"].items():
        entry = _parse(value)
        if entry is not None:
            entries[key] = entry
    return entries


def _parse(value: object) -> Entry | None:
    """An entry as `_dump` wrote it, or None for anything else (that file is simply hashed again)."""
    if not isinstance(value, list) or len(value) != 7:
        return None
    dev, ino, size, mtime_ns, ctime_ns, hashed_at_ns, sha256 = value
    if not all(type(n) is int for n in (dev, ino, size, mtime_ns, ctime_ns, hashed_at_ns)):
        return None
    if not isinstance(sha256, str) or len(sha256) != SHA256_HEX or any(c not in "0123456789abcdef" for c in sha256):
        return None
    return Entry(dev, ino, size, mtime_ns, ctime_ns, hashed_at_ns, sha256)
