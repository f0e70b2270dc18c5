"""The evaluation's numbers, from labels and class probabilities only (pure: no model, no files).

Definitions (the PR comment and evaluation.json use exactly these):
- accuracy: the share of sentences whose predicted label (the top-scoring one) is the labelled one;
- recall of a label: of the sentences labelled with it, the share predicted as it (None when none is labelled so);
- macro-F1: the unweighted mean over labels of F1 = 2PR / (P + R), where P (precision) is the share of the
  sentences predicted as the label that are labelled so, R its recall, and F1 = 0 when P + R = 0; the labels
  are those that occur in the labels or the predictions (as scikit-learn's `f1_score(average="macro")`);
- a flip: a sentence whose predicted label differs between base and head;
- score change of a sentence: max over labels of |p_head(label) - p_base(label)|, the largest move of any class
  probability (0 for the same answer, 1 for a certain answer turned around); reported as mean and max over the
  sentences;
- int8 agreement: the share of sentences whose top label is the same when the same model runs with
  HUBDEPLOY_PRECISION=int8 as in fp32 (1.0: int8 never changes a label); its score difference per sentence is the
  score change above with fp32 as base and int8 as head (every label's probability, not only the top one's);
- latency percentiles: linear interpolation between the closest ranks (numpy's default `percentile` method).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hubdeploy.errors import UsageError


@dataclass(frozen=True)
class Prediction:
    """What the model answered for one sentence: its top label and every label's probability."""

    label: str
    scores: Mapping[str, float]

    @property
    def score(self) -> float:
        return self.scores[self.label]


@dataclass(frozen=True)
class Flip:
    """A sentence labelled differently by base and head."""

    index: int  # its line in the evaluation set, counted from 0 over the non-blank lines
    text: str
    base: Prediction
    head: Prediction

    def to_json(self) -> dict[str, str | float]:
        return {
            "text": self.text,
            "base_label": self.base.label,
            "base_score": round(self.base.score, 4),
            "head_label": self.head.label,
            "head_score": round(self.head.score, 4),
        }


def _check_lengths(gold: Sequence[str], predicted: Sequence[Prediction]) -> None:
    if not gold or len(gold) != len(predicted):
        raise UsageError(
            f"{len(predicted)} predictions for {len(gold)} sentences", hint="this is a bug in the evaluation: report it"
        )


def accuracy(gold: Sequence[str], predicted: Sequence[Prediction]) -> float:
    _check_lengths(gold, predicted)
    return sum(g == p.label for g, p in zip(gold, predicted, strict=True)) / len(gold)


def recall(gold: Sequence[str], predicted: Sequence[Prediction], labels: Sequence[str]) -> dict[str, float | None]:
    """Per label in `labels`: the share of its sentences predicted as it; None for a label no sentence has."""
    _check_lengths(gold, predicted)
    result: dict[str, float | None] = {}
    for label in labels:
        hits = [p.label == label for g, p in zip(gold, predicted, strict=True) if g == label]
        result[label] = sum(hits) / len(hits) if hits else None
    return result


def macro_f1(gold: Sequence[str], predicted: Sequence[Prediction]) -> float:
    _check_lengths(gold, predicted)
    pairs = list(zip(gold, (p.label for p in predicted), strict=True))
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    scores = []
    for label in labels:
        true_positive = sum(g == p == label for g, p in pairs)
        labelled = sum(g == label for g, _ in pairs)
        predicted_as = sum(p == label for _, p in pairs)
        precision = true_positive / predicted_as if predicted_as else 0.0
        rec = true_positive / labelled if labelled else 0.0
        scores.append(2 * precision * rec / (precision + rec) if precision + rec else 0.0)
    return sum(scores) / len(scores)


def flips(texts: Sequence[str], base: Sequence[Prediction], head: Sequence[Prediction]) -> list[Flip]:
    """Every sentence whose predicted label differs, in the evaluation set's order."""
    _check_lengths(texts, base)
    _check_lengths(texts, head)
    return [
        Flip(index=i, text=t, base=b, head=h)
        for i, (t, b, h) in enumerate(zip(texts, base, head, strict=True))
        if b.label != h.label
    ]


def score_change(base: Prediction, head: Prediction) -> float:
    """max over labels of |p_head(label) - p_base(label)| (a label one side does not score counts as 0)."""
    labels = set(base.scores) | set(head.scores)
    return max(abs(head.scores.get(label, 0.0) - base.scores.get(label, 0.0)) for label in labels)


def score_changes(base: Sequence[Prediction], head: Sequence[Prediction]) -> tuple[float, float]:
    """(mean, max) of the per-sentence score change."""
    if not base or len(base) != len(head):
        raise UsageError(f"{len(base)} base against {len(head)} head predictions", hint="this is a bug: report it")
    changes = [score_change(b, h) for b, h in zip(base, head, strict=True)]
    return sum(changes) / len(changes), max(changes)


def agreement(reference: Sequence[Prediction], other: Sequence[Prediction]) -> float:
    """The share of sentences whose top label is the same in `other` as in `reference` (fp32 against int8)."""
    if not reference or len(reference) != len(other):
        raise UsageError(f"{len(reference)} against {len(other)} predictions", hint="this is a bug: report it")
    return sum(r.label == o.label for r, o in zip(reference, other, strict=True)) / len(reference)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`, linear between the closest ranks."""
    if not values or not 0 <= q <= 100:
        raise UsageError(f"percentile {q} of {len(values)} values", hint="this is a bug: report it")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
