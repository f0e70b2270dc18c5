"""A gzip member written in fixed blocks, each either deflated or stored, the same bytes on any machine.

Model weights are floats: gzip -6 saves about 8% on BERT's and costs most of a build's CPU (the seed's
`tar -czvf` spends 18 s on 419 MiB). So a file whose first MiB deflates by less than STORE_BELOW_SAVING is
written as stored deflate blocks (the bytes as they are, framed every 64 KiB): the archive is that much
larger, and neither the build nor the extraction runs a compressor over those bytes. Everything else (tokenizer,
config, code, tar headers) is deflated.

The output is one standard gzip member (RFC 1952) holding one deflate stream (RFC 1951): SageMaker asks for "a
single gzip compressed tar archive" (ModelDataUrl,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html), and stored blocks are
part of that format. Which decoder SageMaker unpacks with is not documented, so tests/artifacts/test_gzipstream.py
reads the archive back with GNU gzip and tar, zlib and Python's tarfile, and checks it is one member.

Reproducible: each deflated block is compressed on its own by isal at a fixed level and ends in a sync flush, so
neither the thread count nor the read sizes change a byte; the header has no mtime and no name. The compressed
stream goes to the sink on a writer thread and to its sha256 on a hasher thread, so writing it, hashing it and
reading (and hashing) the input all overlap (hashlib, isal and file I/O release the GIL): on two cores the
archive's sha256 alone is as long as writing the bytes.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol

from isal import isal_zlib

# isal level 2 measured faster than 0 and 1 on BERT's tokenizer and config, at the same ratio.
LEVEL = 2
# The block size decides the output bytes, so it is a constant, never derived from the machine.
BLOCK = 1 << 20
STORED_MAX = 0xFFFF  # the most one stored deflate block holds (RFC 1951 3.2.4)
# Files of at least SAMPLE bytes whose first SAMPLE bytes deflate by less than this are stored.
SAMPLE = 1 << 20
STORE_BELOW_SAVING = 0.10
# ID1 ID2, CM=deflate, no flags, MTIME=0, XFL=0, OS=255 (unknown): nothing about the machine or the time.
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL_EMPTY_STORED = b"\x01\x00\x00\xff\xff"  # BFINAL=1, BTYPE=00, LEN=0, NLEN=0xFFFF
QUEUE_DEPTH = 8  # blocks in flight to each consumer thread: bounds memory at about 8 MiB

Chunk = bytes | bytearray | memoryview


class Digest(Protocol):
    """What hashlib's objects offer and the hasher thread needs."""

    def update(self, data: Chunk, /) -> None: ...


def deflate_block(block: bytes | memoryview) -> bytes:
    """Raw deflate of `block` alone, ending byte-aligned and not final, so blocks can follow."""
    compressor = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


def stored_size(length: int) -> int:
    """Bytes of `length` input bytes as stored deflate blocks (RFC 1951 3.2.4: LEN and NLEN after a header byte)."""
    return length + 5 * -(-length // STORED_MAX)


class _OpenStored:
    """The stored block being filled, in place: each input byte lands at its final offset in the output buffer,
    after the 5-byte header of its 64 KiB piece, whether copied from the caller or read from a file straight into
    it (so the weights are copied once, by the kernel, between the page cache and the archive's blocks)."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer
        self.view = memoryview(buffer)
        self.filled = 0  # input bytes so far

    @property
    def room(self) -> int:
        return BLOCK - self.filled

    def slots(self, n: int) -> list[memoryview]:
        """Where the next `n` (at most `room`) input bytes go: one view per 64 KiB piece they fall in."""
        views, at, end = [], self.filled, self.filled + n
        while at < end:
            piece, offset = divmod(at, STORED_MAX)
            take = min(end - at, STORED_MAX - offset)
            start = at + 5 * (piece + 1)
            views.append(self.view[start : start + take])
            at += take
        return views

    def finish(self) -> memoryview:
        """The block as stored deflate blocks: the piece headers written in front of the bytes."""
        for piece, start in enumerate(range(0, self.filled, STORED_MAX)):
            length = min(STORED_MAX, self.filled - start)
            struct.pack_into("<BHH", self.buffer, start + 5 * piece, 0, length, length ^ 0xFFFF)
        return self.view[: stored_size(self.filled)]


def barely_compresses(path: Path) -> bool:
    """True for a file of at least SAMPLE bytes whose first SAMPLE bytes deflate by less than STORE_BELOW_SAVING."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE)
    if len(sample) < SAMPLE:
        return False
    return len(deflate_block(sample)) > (1 - STORE_BELOW_SAVING) * len(sample)


class _Pooled:
    """A stored block in a pooled buffer: every consumer gets `view`; the buffer goes back to `pool` once the last
    has released it (allocating and zeroing a fresh MiB per block cost as much as copying the bytes into it)."""

    __slots__ = ("buffer", "lock", "pool", "users", "view")

    def __init__(self, buffer: bytearray, view: memoryview, *, users: int, pool: list[bytearray]) -> None:
        self.buffer, self.view, self.users, self.pool = buffer, view, users, pool
        self.lock = threading.Lock()

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            last = self.users == 0
        if last:  # the consumers are done with it: the next stored block may overwrite it
            self.pool.append(self.buffer)


Item = bytes | bytearray | _Pooled


class _Consumer:
    """Hands queued byte strings, in order, to `consume` (a sink's write, a digest's update) on its own thread; the
    first error is raised on the caller's side."""

    def __init__(self, consume: Callable[[bytes | bytearray | memoryview], object], *, name: str) -> None:
        self.consume = consume
        self.queue: queue.Queue[Item | None] = queue.Queue(QUEUE_DEPTH)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.consume(item.view if isinstance(item, _Pooled) else item)
                except BaseException as exc:  # handed to the caller at the next put or at close
                    self.error = exc
            if isinstance(item, _Pooled):
                item.release()

    def put(self, data: Item) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def close(self) -> None:
        """Waits for the queued byte strings to be consumed (`error` then holds the first error, if any)."""
        self.queue.put(None)
        self.thread.join()


class GzipStream:
    """A file-like sink for a tar stream: `write` takes bytes, `write_file` a file's bytes, `store` switches the
    coming bytes to stored.

    `digest`, if given, is fed the compressed stream as it is written; `written` counts its bytes.
    """

    def __init__(self, out: BinaryIO, *, threads: int = 1, digest: Digest | None = None) -> None:
        self.consumers: list[_Consumer] | None = [_Consumer(out.write, name="gzip-writer")]
        if digest is not None:
            self.consumers.append(_Consumer(digest.update, name="gzip-hasher"))
        self.written = 0
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="deflate") if threads > 1 else None
        self.pending: deque[Future[bytes] | Item] = deque()
        self.buffers: list[bytearray] = []  # stored blocks' buffers, back from the consumers (_Pooled)
        self.threads = threads
        self.buf = bytearray()  # the partial block being deflated
        self.open: _OpenStored | None = None  # the partial block being stored
        self.storing = False
        self.crc = 0
        self.size = 0
        self._put(HEADER)

    def store(self, storing: bool) -> None:
        """Blocks from here on are stored (True) or deflated; a pending partial block ends here first."""
        if storing != self.storing:
            self._emit_partial()
            self.storing = storing

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        self.crc = isal_zlib.crc32(view, self.crc)
        self.size += len(view)
        if self.storing:
            while view:
                block = self._open_block()
                for slot in block.slots(min(block.room, len(view))):
                    slot[:] = view[: len(slot)]
                    block.filled += len(slot)
                    view = view[len(slot) :]
                if not block.room:
                    self._emit_open()
            return len(data)
        if self.buf:  # top up the pending partial block first
            need = BLOCK - len(self.buf)
            self.buf += view[:need]
            view = view[need:]
            if len(self.buf) < BLOCK:
                return len(data)
            self._emit(bytes(self.buf))
            self.buf = bytearray()
        while len(view) >= BLOCK:  # whole blocks straight from the caller's buffer
            self._emit(view[:BLOCK])
            view = view[BLOCK:]
        self.buf += view
        return len(data)

    def write_file(self, fh: BinaryIO, size: int, digest: Digest | None = None) -> None:
        """Append the next `size` bytes of the unbuffered file `fh`, feeding them to `digest` on the way; stored
        bytes are read straight into their block (os.readv), deflated ones a MiB at a time.

        Raises:
            OSError: the file cannot be read, or ends before `size` bytes (it changed while being packed).
        """
        left = size
        while left:
            if not self.storing:
                chunk = fh.read(min(BLOCK, left))
                if not chunk:
                    raise OSError(f"it ended after {size - left} of {size} bytes; it changed while being packed")
                if digest is not None:
                    digest.update(chunk)
                self.write(chunk)
                left -= len(chunk)
                continue
            block = self._open_block()
            slots = block.slots(min(block.room, left))
            got = os.readv(fh.fileno(), slots)
            if not got:
                raise OSError(f"it ended after {size - left} of {size} bytes; it changed while being packed")
            counted = 0
            for slot in slots:  # readv filled the slots in order, the last one perhaps in part
                part = slot[: got - counted]
                if not part:
                    break
                self.crc = isal_zlib.crc32(part, self.crc)
                if digest is not None:
                    digest.update(part)
                counted += len(part)
            block.filled += got
            self.size += got
            left -= got
            if not block.room:
                self._emit_open()

    def tell(self) -> int:
        """Uncompressed bytes written so far (tarfile asks)."""
        return self.size

    def close(self) -> None:
        """Ends the deflate stream and writes the gzip trailer (the sink stays open); raises any write error."""
        try:
            self._emit_partial()
            self._drain(0)
            self._put(FINAL_EMPTY_STORED + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
        except BaseException:
            self.abort()
            raise
        self._stop(check=True)

    def abort(self) -> None:
        """Stops the threads without finishing the stream, for a caller that discards the partial file; idempotent."""
        self._stop(check=False)

    def _stop(self, *, check: bool) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.consumers is not None:
            consumers, self.consumers = self.consumers, None
            for consumer in consumers:
                consumer.close()
            errors = [c.error for c in consumers if c.error is not None]
            if check and errors:
                raise errors[0]

    def _put(self, data: Item) -> None:
        if self.consumers is None:
            raise ValueError("the gzip stream is closed")
        for consumer in self.consumers:  # the same bytes, unchanged from here on, to the sink and to the digest
            consumer.put(data)
        self.written += len(data.view if isinstance(data, _Pooled) else data)

    def _emit_partial(self) -> None:
        if self.buf:
            self._emit(bytes(self.buf))
            self.buf = bytearray()
        if self.open is not None and self.open.filled:
            self._emit_open()

    def _open_block(self) -> _OpenStored:
        if self.open is None:
            self.open = _OpenStored(self.buffers.pop() if self.buffers else bytearray(stored_size(BLOCK)))
        return self.open

    def _emit_open(self) -> None:
        block, self.open = self._open_block(), None
        users = len(self.consumers or ())
        self.pending.append(_Pooled(block.buffer, block.finish(), users=users, pool=self.buffers))
        self._drain(2 * self.threads)

    def _emit(self, block: bytes | memoryview) -> None:
        if self.pool is None:
            self.pending.append(deflate_block(block))
        else:
            self.pending.append(self.pool.submit(deflate_block, bytes(block)))
        self._drain(2 * self.threads)

    def _drain(self, keep: int) -> None:
        """Hands finished blocks to the writer in order, waiting while more than `keep` are in flight."""
        while self.pending and (len(self.pending) > keep or _done(self.pending[0])):
            item = self.pending.popleft()
            self._put(item.result() if isinstance(item, Future) else item)


def _done(item: Future[bytes] | Item) -> bool:
    return not isinstance(item, Future) or item.done()
