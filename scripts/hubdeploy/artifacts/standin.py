"""Stand-in models: FinBERT-tone's exact config, labels and tokenizer with random weights.

Used where the real weights cannot be had (no Hub access): tests, benchmarks, and the local demo,
which announces loudly that such a model is untrained. `install_in_hf_cache` lays a model folder
out as a Hugging Face cache entry so the real `snapshot_download` code path serves it offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from hubdeploy.envs import ModelPin, is_commit_sha
from hubdeploy.fsutil import sha256_file

Size = Literal["tiny", "base"]
SIZES: tuple[Size, ...] = ("tiny", "base")
TOKENIZER_FILES: tuple[str, ...] = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
# "tiny" keeps tests fast; "base" is FinBERT-tone's real shape (~440 MB of fp32 weights) for benchmarks.
TINY_OVERRIDES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
UNTRAINED_WARNING = (
    "UNTRAINED STAND-IN MODEL: random weights with FinBERT-tone's labels and tokenizer. "
    "Its labels are noise, not FinBERT's predictions."
)


def finbert_files_dir() -> Path:
    """FinBERT-tone's config and tokenizer files shipped with the package (no weights)."""
    return Path(str(resources.files("hubdeploy") / "data" / "finbert-tone"))


def finbert_config(size: Size = "tiny") -> dict[str, Any]:
    """FinBERT-tone's config.json, shrunk for `tiny`."""
    config = json.loads((finbert_files_dir() / "config.json").read_text())
    config.pop("_name_or_path", None)
    if size == "tiny":
        config.update(TINY_OVERRIDES)
    return config


def build_standin_model(
    out_dir: Path,
    *,
    size: Size = "tiny",
    seed: int = 0,
    weights_format: Literal["safetensors", "bin"] = "safetensors",
) -> Path:
    """Write a random-weight BertForSequenceClassification with FinBERT's labels/tokenizer to `out_dir`.

    The same `seed` and `size` give the same weights, so tests can build two identical models or,
    with another seed, a "new revision".
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    out_dir.mkdir(parents=True, exist_ok=True)
    config_dict = finbert_config(size)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(BertConfig(**config_dict)).eval()
    if weights_format == "safetensors":
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(model.state_dict(), out_dir / "pytorch_model.bin")
    (out_dir / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(finbert_files_dir() / name, out_dir / name)
    return out_dir


def folder_revision(model_dir: Path) -> str:
    """A deterministic 40-hex "commit SHA" for a local folder (sha1 over names and contents)."""
    digest = hashlib.sha1(usedforsecurity=False)  # a git-style id, not a security check
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def install_in_hf_cache(
    model_dir: Path,
    cache_dir: Path,
    repo_id: str,
    *,
    revision: str | None = None,
    refs: tuple[str, ...] = ("main",),
) -> str:
    """Lay `model_dir` out as the HF hub cache entry `repo_id@revision`; return the revision SHA.

    Layout (as huggingface_hub writes it): `models--owner--name/blobs/<sha256>`,
    `snapshots/<revision>/<file>` -> symlink to the blob, `refs/<ref>` holding the revision.
    """
    revision = revision or folder_revision(model_dir)
    repo_folder = cache_dir / ("models--" + repo_id.replace("/", "--"))
    blobs = repo_folder / "blobs"
    snapshot = repo_folder / "snapshots" / revision
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir)
        blob_id = sha256_file(path)
        blob = blobs / blob_id
        if not blob.exists():
            shutil.copyfile(path, blob)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.relpath(blob, link.parent), link)
    (repo_folder / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo_folder / "refs" / ref).write_text(revision)
    return revision


def standin_seed(pin: ModelPin) -> int:
    """Weights follow the pin: another revision gives another (still untrained) model and artifact."""
    return int.from_bytes(hashlib.sha256(f"{pin.hub_model_id}@{pin.hub_revision}".encode()).digest()[:4], "big")


def install_standin(pin: ModelPin, *, cache_dir: Path, build_dir: Path, size: Size = "tiny") -> str:
    """The stand-in for `pin`, laid out in the PRIVATE HF cache `cache_dir` as the pinned revision; returns it.

    The model is built once per (size, seed) under `build_dir`, its weights seeded by the pin, so the local
    stack and `hubdeploy preview` build the same bytes for the same pin (a preview against the local stack's
    emulator then plans "No changes"). A commit SHA pin is installed as that commit; a moving ref (dev's
    `main`) as the folder's own revision, with the ref pointing at it. The user's HF cache is never touched.
    """
    seed = standin_seed(pin)
    folder = build_dir / f"{size}-{seed:08x}"
    if not (folder / "config.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        build_standin_model(folder, size=size, seed=seed)
    if is_commit_sha(pin.hub_revision):
        return install_in_hf_cache(folder, cache_dir, pin.hub_model_id, revision=pin.hub_revision, refs=())
    return install_in_hf_cache(
        folder, cache_dir, pin.hub_model_id, revision=folder_revision(folder), refs=(pin.hub_revision,)
    )
