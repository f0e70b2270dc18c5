"""gzipstream: stored and deflated blocks in one standard gzip member, read back by real decoders."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from hubdeploy.artifacts import archive, gzipstream
from hubdeploy.artifacts.gzipstream import BLOCK, SAMPLE, GzipStream, barely_compresses
from hubdeploy.artifacts.manifest import MANIFEST_NAME, Manifest
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID

pytestmark = pytest.mark.unit

TEXT = b"Operating profit rose to EUR 13.1 mn from EUR 8.7 mn. " * 60_000  # ~3.2 MiB that deflates well


def weights_like(n_bytes: int, seed: int = 0) -> bytes:
    """float32 normal(0, 0.02): BERT's initializer range, which deflates about as little as trained weights."""
    return np.random.default_rng(seed).normal(0, 0.02, n_bytes // 4).astype("<f4").tobytes()


def _stream(parts: list[tuple[bool, bytes]], *, threads: int, write_size: int = 1 << 16) -> bytes:
    buf = io.BytesIO()
    stream = GzipStream(buf, threads=threads)
    for storing, data in parts:
        stream.store(storing)
        for start in range(0, len(data), write_size):
            stream.write(data[start : start + write_size])
    stream.close()
    return buf.getvalue()


PARTS = [(False, TEXT[:1000]), (True, weights_like(3 * BLOCK + 12345)), (False, TEXT), (True, b"tail")]
PLAIN = b"".join(data for _, data in PARTS)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_every_decoder_reads_back_the_bytes(threads: int, tmp_path: Path) -> None:
    data = _stream(PARTS, threads=threads)
    assert gzip.decompress(data) == PLAIN
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(data) == PLAIN and decoder.eof and not decoder.unused_data  # one member, ends right
    path = tmp_path / "x.gz"
    path.write_bytes(data)
    subprocess.run(["gzip", "-t", str(path)], check=True)  # GNU gzip checks the CRC and the length


def test_bytes_depend_on_the_data_only_not_on_threads_or_write_sizes() -> None:
    outputs = {_stream(PARTS, threads=t, write_size=w) for t in (1, 2, 4) for w in (7, 1 << 16, 3 << 20)}
    assert len(outputs) == 1


def test_stored_bytes_cost_five_bytes_per_64_kib_and_deflated_ones_shrink() -> None:
    weights = weights_like(4 * BLOCK)
    stored = len(_stream([(True, weights)], threads=1))
    pieces = 4 * -(-BLOCK // gzipstream.STORED_MAX)  # each 1 MiB block framed on its own
    assert stored == len(gzipstream.HEADER) + len(weights) + 5 * pieces + len(gzipstream.FINAL_EMPTY_STORED) + 8
    assert len(_stream([(False, TEXT)], threads=2)) < len(TEXT) / 20


def test_only_large_files_that_barely_deflate_are_stored(tmp_path: Path) -> None:
    (tmp_path / "weights").write_bytes(weights_like(SAMPLE + 4096))
    (tmp_path / "tokenizer.json").write_bytes(TEXT)
    (tmp_path / "small-weights").write_bytes(weights_like(SAMPLE - 4))  # deflating it costs nothing worth saving
    (tmp_path / "bf16-like").write_bytes(bytes(SAMPLE) + weights_like(SAMPLE))  # its first MiB deflates well
    assert barely_compresses(tmp_path / "weights")
    assert not barely_compresses(tmp_path / "tokenizer.json")
    assert not barely_compresses(tmp_path / "small-weights")
    assert not barely_compresses(tmp_path / "bf16-like")


def test_a_model_archive_stores_the_weights_deflates_the_rest_and_tar_extracts_it(tmp_path: Path) -> None:
    src = tmp_path / "model"
    src.mkdir()
    (src / "model.safetensors").write_bytes(weights_like(2 * BLOCK))
    (src / "vocab.txt").write_bytes(TEXT)
    out = tmp_path / "model.tar.gz"
    with out.open("wb") as fh:
        archive.write_model_tar(
            fh,
            entries=[(n, src / n) for n in ("model.safetensors", "vocab.txt")],
            manifest=Manifest(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision=None),
        )
    size = out.stat().st_size
    assert 2 * BLOCK < size < 2 * BLOCK + len(TEXT) / 10  # weights as they are, the vocabulary squeezed
    target = tmp_path / "extracted"
    target.mkdir()
    subprocess.run(["tar", "-xzf", str(out), "-C", str(target)], check=True)  # GNU tar through gzip, as a shell does
    for name in ("model.safetensors", "vocab.txt"):
        assert (target / name).read_bytes() == (src / name).read_bytes()
    with tarfile.open(out) as tar:  # and Python's tarfile, as SageMaker's toolkit does
        assert sorted(tar.getnames()) == sorted([MANIFEST_NAME, "model.safetensors", "vocab.txt"])


class _FullDisk(io.RawIOBase):
    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)


def test_a_write_error_on_the_writer_thread_reaches_the_caller_without_a_hang() -> None:
    stream = GzipStream(_FullDisk(room=3 * BLOCK), threads=2)
    with pytest.raises(OSError, match="No space left"):
        stream.store(True)
        for _ in range(64):
            stream.write(weights_like(BLOCK))
        stream.close()
    stream.abort()  # idempotent: the caller's cleanup may call it again


@pytest.mark.parametrize("threads", [1, 2])
def test_the_digest_thread_hashes_exactly_the_bytes_written(threads: int) -> None:
    buf, digest = io.BytesIO(), hashlib.sha256()
    stream = GzipStream(buf, threads=threads, digest=digest)
    for storing, data in PARTS:
        stream.store(storing)
        stream.write(data)
    stream.close()
    assert digest.hexdigest() == hashlib.sha256(buf.getvalue()).hexdigest()
    assert stream.written == len(buf.getvalue())


class _BrokenDigest:
    def update(self, data) -> None:  # type: ignore[no-untyped-def]
        raise MemoryError("digest gave up")


def test_an_error_on_the_hasher_thread_reaches_the_caller_without_a_hang() -> None:
    stream = GzipStream(io.BytesIO(), threads=2, digest=_BrokenDigest())
    with pytest.raises(MemoryError, match="digest gave up"):
        stream.store(True)
        for _ in range(64):
            stream.write(weights_like(BLOCK))
        stream.close()
    stream.abort()


def _file_stream(tmp_path: Path, *, storing: bool, data: bytes, threads: int) -> tuple[bytes, str]:
    """`data` packed by write_file after a short write (so it starts mid-block); the stream and data's digest."""
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    buf, digest = io.BytesIO(), hashlib.sha256()
    stream = GzipStream(buf, threads=threads)
    stream.store(storing)
    stream.write(b"header" * 100)
    with path.open("rb", buffering=0) as fh:
        stream.write_file(fh, len(data), digest)
    stream.write(b"tail")
    stream.close()
    return buf.getvalue(), digest.hexdigest()


@pytest.mark.parametrize("storing", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_file_streamed_in_gives_the_bytes_that_writing_it_does(storing: bool, threads: int, tmp_path: Path) -> None:
    data = weights_like(2 * BLOCK + 3 * gzipstream.STORED_MAX + 17) if storing else TEXT
    packed, digest = _file_stream(tmp_path, storing=storing, data=data, threads=threads)
    assert packed == _stream([(storing, b"header" * 100 + data + b"tail")], threads=1)
    assert digest == hashlib.sha256(data).hexdigest()
    assert gzip.decompress(packed) == b"header" * 100 + data + b"tail"


def test_a_file_that_arrives_in_short_reads_still_lands_in_order() -> None:
    # a pipe hands readv whatever has been written so far: slots filled in part, then the rest on the next read
    data = weights_like(BLOCK + 70_001)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as fh:
            for start in range(0, len(data), 40_000):
                fh.write(data[start : start + 40_000])

    feeder = threading.Thread(target=feed)
    feeder.start()
    buf, digest = io.BytesIO(), hashlib.sha256()
    stream = GzipStream(buf, threads=2)
    stream.store(True)
    with os.fdopen(read_end, "rb", buffering=0) as fh:
        stream.write_file(fh, len(data), digest)
    stream.close()
    feeder.join()
    assert buf.getvalue() == _stream([(True, data)], threads=1)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("storing", [True, False])
def test_a_file_shorter_than_announced_is_an_error_that_says_so(storing: bool, tmp_path: Path) -> None:
    path = tmp_path / "shrunk.bin"
    path.write_bytes(b"x" * 1000)
    stream = GzipStream(io.BytesIO(), threads=1)
    stream.store(storing)
    with path.open("rb", buffering=0) as fh, pytest.raises(OSError, match="ended after 1000 of 5000 bytes"):
        stream.write_file(fh, 5000)
    stream.abort()


def test_the_tar_stream_has_the_bytes_tarfile_writes(tmp_path: Path) -> None:
    # the archive's tar layer is written by hand (so weights go straight into stored blocks), byte for byte as
    # Python's tarfile writes it: sizes at and around the 512-byte block, a pax long name, a non-ASCII name
    names = {"empty": 0, "a/one-block": 512, "a/b/over": 513, "ünïcode.txt": 7, "long/" + "n" * 150: 1000}
    src = tmp_path / "src"
    entries = []
    for i, (name, size) in enumerate(names.items()):
        path = src / f"f{i}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(bytes(range(256)) * (size // 256) + b"z" * (size % 256))
        entries.append((name, path))
    manifest = Manifest(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision=None)
    out = io.BytesIO()
    final = archive.write_model_tar(out, entries=entries, manifest=manifest, threads=1)
    expected = io.BytesIO()
    with tarfile.open(fileobj=expected, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("a", "a/b", "long"):
            tar.addfile(archive._tarinfo(directory, directory=True))
        for name, path in sorted(entries):
            tar.addfile(archive._tarinfo(name, size=path.stat().st_size), io.BytesIO(path.read_bytes()))
        data = final.to_bytes()
        tar.addfile(archive._tarinfo(MANIFEST_NAME, size=len(data)), io.BytesIO(data))
    assert gzip.decompress(out.getvalue()) == expected.getvalue()
