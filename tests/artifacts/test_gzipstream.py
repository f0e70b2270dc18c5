"""gzipstream: stored and deflated blocks in one standard gzip member, read back by real decoders."""

from __future__ import annotations

import errno
import gzip
import io
import subprocess
import tarfile
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
