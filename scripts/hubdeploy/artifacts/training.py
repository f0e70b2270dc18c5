"""Train the small stand-in model: a 2-layer BERT with FinBERT-tone's tokenizer and labels, fitted on the labelled
sentences shipped in `data/standin/train.jsonl`, so that without Hub access the demo and the PR evaluation run a
model whose labels mean something (a small model trained on a few hundred sentences: not FinBERT).

Deterministic: the seed fixes the initial weights, the dropout masks and the batch order, and training runs on
one CPU thread (a multi-threaded reduction may add floats in another order), so the same recipe gives the same
bytes on the same machine, in any process. That is what lets `hubdeploy preview` rebuild exactly what the local
stack deployed. The recipe and the training data are hashed into the folder name: change either and the cache
misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hubdeploy.errors import UsageError

LABELS: tuple[str, ...] = ("Neutral", "Positive", "Negative")  # FinBERT-tone's id2label order


@dataclass(frozen=True)
class Recipe:
    """How a stand-in is trained. Two recipes that differ in any field give two different models."""

    seed: int
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 1e-3
    max_length: int = 64
    # Every `holdout`-th sentence (counted from `holdout_offset`) is left out of training: a second recipe with
    # another offset is "trained differently" on purpose, so two stand-in revisions disagree on some sentences.
    holdout: int = 0
    holdout_offset: int = 0
    # The classifier head's (pooler and classifier) rate when it differs: a 12-layer model trained for a few
    # dozen steps from random weights learns mostly through its head (the BERT-base benchmark stand-in).
    head_learning_rate: float | None = None
    # Train only the head on the body's features, computed once (the body keeps its seeded random weights): what
    # trains BERT-base in seconds; a few full epochs from random weights left it at chance (measured: 33%).
    head_only: bool | None = None
    # Train the top N encoder layers and the head on the lower layers' outputs, computed once (the lower layers
    # keep their seeded random weights): a body that gathers the sentence into [CLS] with realistic margins, which a
    # trained head on a random body lacks (int8 rounding then flips its labels), at a fraction of full training.
    top_layers: int | None = None
    # Stop early once every label gets at least this share of its training sentences right (checked every
    # CHECK_EVERY epochs); `epochs` is then the cap. How many epochs a small BERT needs before it tells Positive
    # from Negative depends on the seed and on the CPU's float kernels: at 40 fixed epochs a seed that learnt both
    # on one machine stayed at chance between them on another (AVX-512), so the stand-in trains until it has.
    until_label_accuracy: float | None = None
    # With `until_label_accuracy`: sentences (text, label), never trained on, that must also be labelled right
    # before training stops (the demo's: a model that learnt its training set can still miss a sentence it is
    # shown to a user with).
    until_right: tuple[tuple[str, str], ...] | None = None

    def key(self, data_digest: str) -> str:
        # fields left unset (None) stay out of the key, so recipes written before a field existed keep theirs
        recipe = {name: value for name, value in asdict(self).items() if value is not None}
        blob = json.dumps({"recipe": recipe, "data": data_digest, "version": 1}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Sentence:
    text: str
    label: str


def training_data_path() -> Path:
    return Path(str(resources.files("hubdeploy") / "data" / "standin" / "train.jsonl"))


def read_sentences(path: Path, *, labels: Sequence[str] | None = LABELS) -> list[Sentence]:
    """Labelled sentences, one JSON object per line: {"text": "...", "label": "Neutral|Positive|Negative"}.

    `labels` are the labels allowed (FinBERT-tone's by default); None accepts any non-empty label, for a caller
    that checks them against a model's own `id2label` once it has the model (the PR evaluation).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read labelled sentences from {path} ({exc.strerror})", hint="check the path") from (
            None
        )
    sentences: list[Sentence] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, label = item["text"], item["label"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UsageError(
                f'{path}:{number} is not a JSON object with "text" and "label"',
                hint='write one object per line: {"text": "...", "label": "Positive"}',
            ) from None
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f'{path}:{number}: "text" must be a non-empty string', hint="fix or delete the line")
        if labels is None and (not isinstance(label, str) or not label.strip()):
            raise UsageError(f'{path}:{number}: "label" must be a non-empty string', hint="fix or delete the line")
        if labels is not None and label not in labels:
            raise UsageError(
                f"{path}:{number}: label {label!r} is not one of {', '.join(labels)}",
                hint="use the model's labels (its config.json id2label), spelled as shown",
            )
        sentences.append(Sentence(text=text, label=label))
    if not sentences:
        raise UsageError(f"{path} holds no sentences", hint="add labelled sentences, one JSON object per line")
    return sentences


CHECK_EVERY = 10  # epochs between two checks of `Recipe.until_label_accuracy`


def data_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(
    out_dir: Path, config_dict: dict[str, Any], tokenizer_dir: Path, sentences: list[Sentence], recipe: Recipe
) -> dict[str, Any]:
    """Fit BertForSequenceClassification(config) on `sentences`; write it to `out_dir`; return the training record."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    started = time.monotonic()
    used = [s for i, s in enumerate(sentences) if not recipe.holdout or (i - recipe.holdout_offset) % recipe.holdout]
    label_ids = {label: int(i) for label, i in config_dict["label2id"].items()}  # the model's own mapping
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    encoded = tokenizer(
        [s.text for s in used], padding=True, truncation=True, max_length=recipe.max_length, return_tensors="pt"
    )
    targets = torch.tensor([label_ids[s.label] for s in used])
    checks = _encode_checks(tokenizer, recipe, label_ids)
    with _one_thread():
        torch.manual_seed(recipe.seed)
        model = BertForSequenceClassification(BertConfig(**config_dict))
        optimizer = torch.optim.AdamW(_parameter_groups(model, recipe), lr=recipe.learning_rate)
        order = torch.Generator().manual_seed(recipe.seed)
        model.train()
        if recipe.top_layers:
            _train_top(model, encoded, targets, recipe, optimizer, order)
            epochs_run = recipe.epochs
        elif recipe.head_only:
            _train_head(model, encoded, targets, recipe, optimizer, order)
            epochs_run = recipe.epochs
        else:
            epochs_run = _train_full(model, encoded, targets, label_ids, recipe, optimizer, order, checks)
        predicted = _predict(model, encoded)
        checks_right = _right(model, checks)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    return {
        "recipe": asdict(recipe),
        "sentences": len(used),
        "train_accuracy": round(float((predicted == targets).float().mean()), 4),
        "label_accuracy": _label_accuracy(predicted, targets, label_ids),
        "epochs_run": epochs_run,
        **({"until_right": f"{checks_right} of {len(recipe.until_right)}"} if recipe.until_right else {}),
        "seconds": round(time.monotonic() - started, 1),
    }


def _passes(targets: Any, recipe: Recipe, optimizer: Any, order: Any, loss_of: Any, *, epochs: int = 1) -> None:
    """`epochs` passes over the sentences in the seeded order, `batch_size` at a time: one step per batch, whose
    loss is `loss_of(batch indices)`."""
    import torch

    for _epoch in range(epochs):
        for batch in torch.randperm(len(targets), generator=order).split(recipe.batch_size):
            loss = loss_of(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def _trimmed_mask(encoded: Any, batch: Any) -> tuple[Any, int]:
    """The batch's attention mask and its longest sentence: trimming to it is less work, same result."""
    mask = encoded["attention_mask"][batch]
    return mask, int(mask.sum(dim=1).max())


def _train_full(
    model: Any,
    encoded: Any,
    targets: Any,
    label_ids: dict[str, int],
    recipe: Recipe,
    optimizer: Any,
    order: Any,
    checks: tuple[Any, Any] | None,
) -> int:
    """Train every weight for `recipe.epochs`, or until `recipe.until_label_accuracy` is met; returns the epochs run."""

    def loss_of(batch: Any) -> Any:
        mask, width = _trimmed_mask(encoded, batch)
        return model(
            input_ids=encoded["input_ids"][batch, :width],
            attention_mask=mask[:, :width],
            token_type_ids=encoded["token_type_ids"][batch, :width],
            labels=targets[batch],
        ).loss

    epochs_run = 0
    while epochs_run < recipe.epochs:
        _passes(targets, recipe, optimizer, order, loss_of)
        epochs_run += 1
        if recipe.until_label_accuracy is not None and epochs_run % CHECK_EVERY == 0:
            if _learnt(model, encoded, targets, label_ids, recipe.until_label_accuracy, checks):
                break
            model.train()
    return epochs_run


def _encode_checks(tokenizer: Any, recipe: Recipe, label_ids: dict[str, int]) -> tuple[Any, Any] | None:
    """`recipe.until_right` tokenized, with its label ids; None when there is none."""
    import torch

    if not recipe.until_right:
        return None
    unknown = sorted({label for _, label in recipe.until_right} - set(label_ids))
    if unknown:
        raise UsageError(f"until_right uses labels the model lacks: {', '.join(unknown)}", hint="use its id2label")
    texts = [text for text, _ in recipe.until_right]
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=recipe.max_length, return_tensors="pt")
    return encoded, torch.tensor([label_ids[label] for _, label in recipe.until_right])


def _right(model: Any, checks: tuple[Any, Any] | None) -> int:
    """How many of the check sentences the model labels right (0 when there are none)."""
    if checks is None:
        return 0
    encoded, wanted = checks
    return int((_predict(model, encoded) == wanted).sum())


def _learnt(
    model: Any, encoded: Any, targets: Any, label_ids: dict[str, int], share: float, checks: tuple[Any, Any] | None
) -> bool:
    """Every label gets `share` of its training sentences right, and every check sentence is right."""
    if min(_label_accuracy(_predict(model, encoded), targets, label_ids).values()) < share:
        return False
    return checks is None or _right(model, checks) == len(checks[1])


def _predict(model: Any, encoded: Any) -> Any:
    """The label ids the model gives the sentences, in eval mode (no dropout: draws nothing from the seeded RNG)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(**encoded).logits.argmax(dim=-1)


def _label_accuracy(predicted: Any, targets: Any, label_ids: dict[str, int]) -> dict[str, float]:
    """Per label, the share of its training sentences labelled right."""
    shares: dict[str, float] = {}
    for label, label_id in label_ids.items():
        mine = targets == label_id
        if bool(mine.any()):
            shares[label] = round(float((predicted[mine] == label_id).float().mean()), 4)
    return shares


HEAD_PREFIXES = ("classifier.", "bert.pooler.")


def _top_prefixes(model: Any, recipe: Recipe) -> tuple[str, ...]:
    layers, top = len(model.bert.encoder.layer), recipe.top_layers or 0
    if not 0 < top <= layers:
        return ()
    return tuple(f"bert.encoder.layer.{i}." for i in range(layers - top, layers))


def _parameter_groups(model: Any, recipe: Recipe) -> Any:
    """The optimizer's parameters: one group, or the body and the head apart when the head has its own rate."""
    named = list(model.named_parameters())
    if recipe.top_layers:
        if not _top_prefixes(model, recipe):
            raise UsageError(
                f"top_layers={recipe.top_layers} but the model has {len(model.bert.encoder.layer)} layers",
                hint="train between 1 and the model's num_hidden_layers top layers",
            )
        named = [(name, p) for name, p in named if name.startswith(HEAD_PREFIXES + _top_prefixes(model, recipe))]
    elif recipe.head_only:
        return [p for name, p in named if name.startswith(HEAD_PREFIXES)]
    if recipe.head_learning_rate is None:
        return [p for _, p in named]
    return [
        {"params": [p for name, p in named if not name.startswith(HEAD_PREFIXES)]},
        {"params": [p for name, p in named if name.startswith(HEAD_PREFIXES)], "lr": recipe.head_learning_rate},
    ]


def _train_head(model: Any, encoded: Any, targets: Any, recipe: Recipe, optimizer: Any, order: Any) -> None:
    """Fit the pooler and classifier on the frozen body's [CLS] outputs (what the pooler reads), computed once."""
    import torch

    model.eval()
    with torch.no_grad():
        features = model.bert(**encoded).last_hidden_state[:, :1]
    model.dropout.train()

    def loss_of(batch: Any) -> Any:
        logits = model.classifier(model.dropout(model.bert.pooler(features[batch])))
        return torch.nn.functional.cross_entropy(logits, targets[batch])

    _passes(targets, recipe, optimizer, order, loss_of, epochs=recipe.epochs)


def _train_top(model: Any, encoded: Any, targets: Any, recipe: Recipe, optimizer: Any, order: Any) -> None:
    """Fit the top `recipe.top_layers` layers, the pooler and the classifier on the frozen lower layers' outputs."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    layers = model.bert.encoder.layer
    split = len(layers) - int(recipe.top_layers or 0)
    model.eval()
    with torch.no_grad():  # hidden_states[i] is what layer i reads
        lower = model.bert(**encoded, output_hidden_states=True).hidden_states[split]
    model.train()  # dropout in the trained layers, as full training would have it

    def loss_of(batch: Any) -> Any:
        mask, width = _trimmed_mask(encoded, batch)
        hidden = lower[batch, :width]
        attention = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask[:, :width])
        for layer in layers[split:]:
            hidden = layer(hidden, attention)
        logits = model.classifier(model.dropout(model.bert.pooler(hidden)))
        return torch.nn.functional.cross_entropy(logits, targets[batch])

    _passes(targets, recipe, optimizer, order, loss_of, epochs=recipe.epochs)
