"""Which files of a model repository serving needs, and whether a folder has them.

One allow-list for both paths in: `hubdeploy fetch` picks these names from the Hub's file list, and
`hubdeploy build --model-dir` picks them from a local folder, so both produce the same archive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.errors import ArtifactError

CONFIG_FILE = "config.json"
# Files a tokenizer may be made of; a repo holds some of them (BERT: vocab.txt + tokenizer_config.json).
TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
# At least one of these must be there: the vocabulary itself, not only its settings.
TOKENIZER_VOCAB_FILES: frozenset[str] = frozenset(
    {"tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}
)
SAFETENSORS = re.compile(r"^model(-\d{5}-of-\d{5})?\.safetensors$")
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = re.compile(r"^pytorch_model(-\d{5}-of-\d{5})?\.bin$")
PYTORCH_BIN_INDEX = "pytorch_model.bin.index.json"


@dataclass(frozen=True)
class ServingFiles:
    """The files of a model repo that go into model.tar.gz."""

    config: str
    tokenizer: tuple[str, ...]
    weights: tuple[str, ...]  # incl. the shard index when sharded
    weights_format: str  # "safetensors" or "bin"

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(sorted({self.config, *self.tokenizer, *self.weights}))


def select_serving_files(names: Iterable[str], *, where: str) -> ServingFiles:
    """Pick config, tokenizer and weights from a repo's root file names; safetensors beat pickled .bin.

    Raises:
        ArtifactError: naming every missing part (config.json, tokenizer, weights) at `where`.
    """
    root = {n for n in names if "/" not in n}
    tokenizer = tuple(sorted(n for n in root if n in TOKENIZER_FILES))
    safetensors = sorted(n for n in root if SAFETENSORS.match(n))
    bins = sorted(n for n in root if PYTORCH_BIN.match(n))
    missing = []
    if CONFIG_FILE not in root:
        missing.append("config.json")
    if not TOKENIZER_VOCAB_FILES.intersection(tokenizer):
        missing.append("tokenizer files (tokenizer.json or vocab.txt/vocab.json/*.model)")
    if not safetensors and not bins:
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if missing:
        raise ArtifactError(
            f"{where} lacks {', '.join(missing)}",
            hint="point at a full Transformers model (save_pretrained output, or a Hub revision that has them)",
        )
    if safetensors:
        weights, index, fmt = safetensors, SAFETENSORS_INDEX, "safetensors"
    else:
        weights, index, fmt = bins, PYTORCH_BIN_INDEX, "bin"
    sharded = any("-of-" in w for w in weights)
    if sharded:
        if index not in root:
            raise ArtifactError(f"{where} has sharded weights but no {index}", hint="add the shard index file")
        weights = [*weights, index]
    return ServingFiles(config=CONFIG_FILE, tokenizer=tokenizer, weights=tuple(weights), weights_format=fmt)


def check_readable(path: Path) -> None:
    """Fail with a one-liner if `path` cannot be opened for reading (missing, dangling link, permissions)."""
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise ArtifactError(
            f"cannot read {path}: {exc.strerror or exc}",
            hint="check the file exists and is readable (an HF cache with a missing blob: re-run hubdeploy fetch)",
        ) from None


def check_config(config_path: Path) -> dict[str, Any]:
    """config.json must parse and carry id2label (the API answers with label names)."""
    check_readable(config_path)
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{config_path} is not valid JSON ({exc})", hint="fix or re-download it") from None
    id2label = config.get("id2label") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(id2label, dict) or not id2label:
        raise ArtifactError(
            f"{config_path} has no id2label",
            hint="serving needs label names: save the model with id2label set (e.g. {0: 'Neutral', ...})",
        )
    return config


def check_index(model_dir: Path, files: ServingFiles) -> None:
    """Every shard named by a weights index must be among the selected files."""
    index = next((w for w in files.weights if w.endswith(".index.json")), None)
    if index is None:
        return
    try:
        shards = set(json.loads((model_dir / index).read_text()).get("weight_map", {}).values())
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ArtifactError(f"{model_dir / index} is unreadable ({exc})", hint="fix or re-download it") from None
    absent = sorted(shards - set(files.weights))
    if absent:
        raise ArtifactError(f"{model_dir} lacks weight shards {', '.join(absent)}", hint="download every shard")


def validate_model_dir(model_dir: Path) -> ServingFiles:
    """Check a model folder has what serving needs and that it can be read; return the files to pack."""
    if not model_dir.exists():
        raise ArtifactError(f"model folder {model_dir} does not exist", hint="check the path given to --model-dir")
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir} is not a folder", hint="pass the folder that holds config.json")
    try:
        names = [p.name for p in model_dir.iterdir() if p.is_file() or p.is_symlink()]
    except OSError as exc:
        raise ArtifactError(f"cannot list {model_dir}: {exc.strerror or exc}", hint="check its permissions") from None
    files = select_serving_files(names, where=str(model_dir))
    check_config(model_dir / files.config)
    for name in files.all:
        check_readable(model_dir / name)
    check_index(model_dir, files)
    return files
