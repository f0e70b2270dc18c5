"""Stand-in models: FinBERT-tone's exact config, labels and tokenizer, for where the real weights cannot be had.

`install_standin` (the local demo and `hubdeploy preview` without Hub access) lays out a small BERT TRAINED at
first use on the labelled sentences in `data/standin/train.jsonl` (see `training`), announced as what it is.
`build_standin_model` writes random weights: tests that need a model of the right shape, and the BERT-base-sized
benchmark model. `install_in_hf_cache` lays a model folder out as a Hugging Face cache entry so the real
`snapshot_download` code path serves it offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from hubdeploy.artifacts import training
from hubdeploy.artifacts.hub import cache_repo_folder
from hubdeploy.envs import ModelPin, is_commit_sha
from hubdeploy.fsutil import atomic_write_json, sha256_file

Size = Literal["tiny", "base"]
SIZES: tuple[Size, ...] = ("tiny", "base")
TOKENIZER_FILES: tuple[str, ...] = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
# "tiny" keeps tests fast; "base" is FinBERT-tone's real shape (~440 MB of fp32 weights) for benchmarks.
TINY_OVERRIDES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
UNTRAINED_WARNING = (
    "UNTRAINED STAND-IN MODEL: random weights with FinBERT-tone's labels and tokenizer. "
    "Its labels are noise, not FinBERT's predictions."
)
# A revision name the stand-in knows without any Hub: the same small model trained differently (another seed,
# a quarter of the sentences held out), so a newcomer can rehearse "bump the model by PR" and see real flips.
SECOND_REVISION = "standin-v2"


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
    _write_config_and_tokenizer(out_dir, config_dict)
    return out_dir


def _write_config_and_tokenizer(out_dir: Path, config_dict: dict[str, Any]) -> None:
    """A model folder's non-weight files: its config.json and FinBERT's tokenizer files."""
    (out_dir / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(finbert_files_dir() / name, out_dir / name)


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
    repo_folder = cache_repo_folder(cache_dir, repo_id)
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
    """Weights follow the pin: another revision gives another model and artifact."""
    return int.from_bytes(hashlib.sha256(f"{pin.hub_model_id}@{pin.hub_revision}".encode()).digest()[:4], "big")


# The demo's sentences and the label a person would give each. None of them is in the stand-in's training data;
# the stand-in trains until it labels them right (and every label is learnt), as the demo promises.
SAMPLES: tuple[tuple[str, str], ...] = (
    ("Profits rose sharply and the company raised its dividend.", "Positive"),
    ("The company swung to a loss and cut hundreds of jobs.", "Negative"),
    ("The annual general meeting will be held on Tuesday.", "Neutral"),
)
# The demo's stand-in trains until every label gets this share of its training sentences right and SAMPLES are
# labelled right, for at most STANDIN_MAX_EPOCHS. Float kernels differ between CPUs, so the epoch this happens at
# does too: on one machine (2026-12-03) `main` stopped at 60 epochs and standin-v2 at 40; on another (AVX-512,
# 2026-12-04) standin-v2 had every label learnt at 40 yet called the demo's loss Positive, and was right from 50.
STANDIN_LABEL_ACCURACY = 0.95
STANDIN_MAX_EPOCHS = 200


def standin_recipe(pin: ModelPin) -> training.Recipe:
    """How the stand-in for `pin` is trained: seeded by the pin; `SECOND_REVISION` also holds out every 4th."""
    recipe = training.Recipe(
        seed=standin_seed(pin),
        epochs=STANDIN_MAX_EPOCHS,
        until_label_accuracy=STANDIN_LABEL_ACCURACY,
        until_right=SAMPLES,
    )
    if pin.hub_revision == SECOND_REVISION:
        return dataclasses.replace(recipe, holdout=4, holdout_offset=1)
    return recipe


@dataclass(frozen=True)
class StandIn:
    """A stand-in installed in a private HF cache: the revision it is installed as and what it is."""

    revision: str
    size: Size
    record: dict[str, Any] | None  # the training record; None for the untrained (random-weight) base size

    @property
    def short_note(self) -> str:
        if self.record is None:
            return "UNTRAINED, random weights: its labels are noise"
        return f"a small BERT trained on {self.record['sentences']} sentences, not FinBERT"

    @property
    def announcement(self) -> str:
        if self.record is None:
            return UNTRAINED_WARNING
        layers, hidden = TINY_OVERRIDES["num_hidden_layers"], TINY_OVERRIDES["hidden_size"]
        return (
            f"STAND-IN MODEL: a small BERT ({layers} layers, hidden size {hidden}) with FinBERT-tone's labels and "
            f"tokenizer, trained on this machine on {self.record['sentences']} labelled sentences "
            f"(hubdeploy/data/standin/train.jsonl; it labels {self.record['train_accuracy']:.0%} of them right). "
            "It is not FinBERT: expect more mistakes than the real model makes."
            + self._unlearnt_labels()
            + self._missed_samples()
        )

    def _missed_samples(self) -> str:
        """A warning when training hit its cap with some of the demo's sentences still labelled wrong, or nothing."""
        assert self.record is not None
        right = self.record.get("until_right")
        if right is None or right == f"{len(SAMPLES)} of {len(SAMPLES)}":
            return ""
        return f" WARNING: it labels only {right} of the demo's sentences right (training stopped at its cap)."

    def _unlearnt_labels(self) -> str:
        """A warning naming the labels training stopped short on (it hit its epoch cap), or nothing."""
        assert self.record is not None
        short = {k: v for k, v in self.record.get("label_accuracy", {}).items() if v < STANDIN_LABEL_ACCURACY}
        if not short:
            return ""
        listed = ", ".join(f"{label} {share:.0%}" for label, share in sorted(short.items()))
        return (
            f" WARNING: training stopped at its cap of {self.record['epochs_run']} epochs with labels still unlearnt "
            f"({listed} of their training sentences right, the target is {STANDIN_LABEL_ACCURACY:.0%}): treat its "
            "answers for them as close to chance."
        )


def trained_model(
    cache_dir: Path, recipe: training.Recipe, *, data: Path | None = None, size: Size = "tiny"
) -> tuple[Path, dict[str, Any]]:
    """The stand-in of `size` trained with `recipe` under `cache_dir`, trained on first use; its training record.

    Trained into a temporary folder and renamed into place, so an interrupted run, or a second process training
    at the same time, never leaves a half-written model where a reader would take it. The record sits next to
    the folder, not in it: it is not one of the model's files. `base` (FinBERT's shape) is for benchmarks that
    need a trained model of the real size; it takes minutes, not seconds.
    """
    data = data or training.training_data_path()
    digest = training.data_digest(data)
    folder = cache_dir / (f"trained-{recipe.key(digest)}" if size == "tiny" else f"trained-{size}-{recipe.key(digest)}")
    record_path = folder.with_name(folder.name + ".json")
    if (folder / "model.safetensors").is_file() and record_path.is_file():
        return folder, json.loads(record_path.read_text())
    sentences = training.read_sentences(data)  # bad data is refused before anything is written
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=cache_dir))
    try:
        config_dict = finbert_config(size)
        record = training.train(scratch, config_dict, finbert_files_dir(), sentences, recipe)
        record["data_sha256"] = digest
        _write_config_and_tokenizer(scratch, config_dict)
        atomic_write_json(record_path, record)
        if folder.exists() and not (folder / "model.safetensors").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # left by a run older than this layout
        try:
            scratch.rename(folder)
        except OSError:  # another process renamed its (identical) model into place first
            if not (folder / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder, record


def install_standin(pin: ModelPin, *, cache_dir: Path, build_dir: Path, size: Size = "tiny") -> StandIn:
    """The stand-in for `pin`, laid out in the PRIVATE HF cache `cache_dir` as the pinned revision.

    `tiny` is trained (seeded by the pin, `standin_recipe`); `base` has random weights (benchmarks want BERT-base's
    shape, and training it would take minutes). Both are built once under `build_dir`, so the local stack and
    `hubdeploy preview` install the same bytes for the same pin (a preview against the local stack's emulator then
    plans "No changes"). A commit SHA pin is installed as that commit; a moving ref (dev's `main`) as the folder's
    own revision, with the ref pointing at it. The user's HF cache is never touched.
    """
    record: dict[str, Any] | None = None
    if size == "tiny":
        folder, record = trained_model(build_dir, standin_recipe(pin))
    else:
        folder = build_dir / f"{size}-{standin_seed(pin):08x}"
        if not (folder / "config.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            build_standin_model(folder, size=size, seed=standin_seed(pin))
    if is_commit_sha(pin.hub_revision):
        revision = install_in_hf_cache(folder, cache_dir, pin.hub_model_id, revision=pin.hub_revision, refs=())
    else:
        revision = install_in_hf_cache(
            folder, cache_dir, pin.hub_model_id, revision=folder_revision(folder), refs=(pin.hub_revision,)
        )
    return StandIn(revision=revision, size=size, record=record)
