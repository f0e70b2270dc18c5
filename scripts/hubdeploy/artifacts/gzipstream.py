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
stream goes to the sink on a writer thread, so hashing and writing it overlap with reading and hashing the input
(hashlib, isal and file I/O release the GIL).
"""

from __future__ import annotations

import queue
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

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
QUEUE_DEPTH = 8  # blocks in flight to the writer thread: bounds memory at about 8 MiB


def deflate_block(block: bytes | memoryview) -> bytes:
    """Raw deflate of `block` alone, ending byte-aligned and not final, so blocks can follow."""
    compressor = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


def stored_blocks(block: bytes | memoryview) -> bytearray:
    """`block` as stored deflate blocks: a 5-byte header per 64 KiB, the bytes unchanged."""
    view = memoryview(block)
    out = bytearray()
    for start in range(0, len(view), STORED_MAX):
        piece = view[start : start + STORED_MAX]
        out += struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF)
        out += piece
    return out


def barely_compresses(path: Path) -> bool:
    """True for a file of at least SAMPLE bytes whose first SAMPLE bytes deflate by less than STORE_BELOW_SAVING."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE)
    if len(sample) < SAMPLE:
        return False
    return len(deflate_block(sample)) > (1 - STORE_BELOW_SAVING) * len(sample)


class _Writer:
    """Writes queued byte strings to `out` on its own thread; the first error is raised on the caller's side."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.queue: queue.Queue[bytes | bytearray | None] = queue.Queue(QUEUE_DEPTH)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gzip-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.out.write(data)
                except BaseException as exc:  # handed to the caller at the next put or at close
                    self.error = exc

    def put(self, data: bytes | bytearray) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def close(self, *, check: bool) -> None:
        """Waits for the queued writes; with `check`, raises the first error they met."""
        self.queue.put(None)
        self.thread.join()
        if check and self.error is not None:
            raise self.error


class GzipStream:
    """A file-like sink for a tar stream: `write` takes bytes, `store` switches the coming bytes to stored."""

    def __init__(self, out: BinaryIO, *, threads: int = 1) -> None:
        self.writer: _Writer | None = _Writer(out)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="deflate") if threads > 1 else None
        self.pending: deque[Future[bytes] | bytes | bytearray] = deque()
        self.threads = threads
        self.buf = bytearray()
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
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close(check=check)

    def _put(self, data: bytes | bytearray) -> None:
        if self.writer is None:
            raise ValueError("the gzip stream is closed")
        self.writer.put(data)

    def _emit_partial(self) -> None:
        if self.buf:
            self._emit(bytes(self.buf))
            self.buf = bytearray()

    def _emit(self, block: bytes | memoryview) -> None:
        if self.storing:
            self.pending.append(stored_blocks(block))
        elif self.pool is None:
            self.pending.append(deflate_block(block))
        else:
            self.pending.append(self.pool.submit(deflate_block, bytes(block)))
        self._drain(2 * self.threads)

    def _drain(self, keep: int) -> None:
        """Hands finished blocks to the writer in order, waiting while more than `keep` are in flight."""
        while self.pending and (len(self.pending) > keep or _done(self.pending[0])):
            item = self.pending.popleft()
            self._put(item.result() if isinstance(item, Future) else item)


def _done(item: Future[bytes] | bytes | bytearray) -> bool:
    return not isinstance(item, Future) or item.done()
