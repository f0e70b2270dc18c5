"""The model folder the build benchmark packs, laid out as the seed packed it: weights, tokenizer, config, code/.

Full size: the BERT-base stand-in (bench/standin.py, about 420 MiB of fp32 weights), hard-linked, not copied.
Small (tests, a quick look): FinBERT-tone's config and tokenizer with a `model.safetensors` of N MiB of
seeded normal(0, 0.02) float32 values (BERT's initializer range), which gzip squeezes about as little as it
squeezes real weights. Both get the repository's model/code as code/, as the seed's `model/` folder had it.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hubdeploy.artifacts.standin import TOKENIZER_FILES, finbert_files_dir

SEED = 0
CHUNK_FLOATS = 1 << 22  # 16 MiB of float32 per write: the folder's size, not memory, is the limit


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed: a copy packs the same
        shutil.copyfile(source, target)


def _add_code(folder: Path, code_dir: Path, code_names: Iterable[str]) -> None:
    (folder / "code").mkdir(parents=True, exist_ok=True)
    for name in code_names:
        shutil.copyfile(code_dir / name, folder / "code" / name)


def from_standin(folder: Path, *, standin: Path, code_dir: Path, code_names: Iterable[str]) -> Path:
    """`folder` (replaced) = the stand-in's files as hard links + code/."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in standin.iterdir():
        if path.is_file():
            _link_or_copy(path, folder / path.name)
    _add_code(folder, code_dir, code_names)
    return folder


def write_safetensors(path: Path, *, floats: int, seed: int = SEED) -> None:
    """One float32 tensor `weight` of `floats` seeded normal(0, 0.02) values, in the safetensors layout:
    an 8-byte little-endian header length, the JSON header (space-padded to 8 bytes), then the raw data."""
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "weight": {"dtype": "F32", "shape": [floats], "data_offsets": [0, 4 * floats]},
        }
    ).encode()
    header += b" " * (-len(header) % 8)
    rng = np.random.default_rng(seed)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        left = floats
        while left:
            n = min(left, CHUNK_FLOATS)
            fh.write(rng.normal(0.0, 0.02, n).astype("<f4").tobytes())
            left -= n


def synthetic(folder: Path, *, weights_mib: float, code_dir: Path, code_names: Iterable[str]) -> Path:
    """`folder` (replaced) = FinBERT's config and tokenizer, `weights_mib` MiB of weights, code/."""
    if weights_mib <= 0:
        raise ValueError(f"weights_mib must be positive, got {weights_mib}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ("config.json", *TOKENIZER_FILES):
        shutil.copyfile(finbert_files_dir() / name, folder / name)
    write_safetensors(folder / "model.safetensors", floats=max(1, int(weights_mib * 2**20) // 4))
    _add_code(folder, code_dir, code_names)
    return folder


def warm(folder: Path) -> None:
    """Read every file once so every contender starts from the same warm page cache."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                while fh.read(8 << 20):
                    pass
