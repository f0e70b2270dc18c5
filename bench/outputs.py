"""Comparing two serving paths' full outputs: every label's score for every text, not only the top label.

A speed-up only counts when both sides answer the same: `require_same` refuses a run whose labels differ, or
whose scores differ by more than a float-rounding tolerance, naming the first text that does. `agreement`
measures how often two paths that are allowed to differ (int8 against fp32) pick the same label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hubdeploy.errors import HubdeployError

Scores = dict[str, float]  # every label's probability for one text


class OutputMismatch(HubdeployError):
    """Two serving paths that must answer the same did not: a benchmark of them would compare different work."""


@dataclass(frozen=True)
class Comparison:
    """How two sides' outputs over the same texts relate."""

    texts: int
    same_label: int
    max_score_difference: float  # largest |a - b| over every label of every text

    @property
    def agreement(self) -> float:
        return self.same_label / self.texts


def top_label(scores: Scores) -> str:
    return max(scores, key=lambda label: scores[label])


def compare(a: Sequence[Scores], b: Sequence[Scores]) -> Comparison:
    """Compare two sides' scores text by text (the same texts in the same order)."""
    if len(a) != len(b):
        raise OutputMismatch(f"one side answered {len(a)} texts, the other {len(b)}", hint="both must answer each text")
    same = 0
    worst = 0.0
    for index, (left, right) in enumerate(zip(a, b, strict=True)):
        if set(left) != set(right):
            raise OutputMismatch(
                f"text {index}: one side scored labels {sorted(left)}, the other {sorted(right)}",
                hint="both sides must return every label's score",
            )
        same += top_label(left) == top_label(right)
        worst = max(worst, max(abs(left[label] - right[label]) for label in left))
    return Comparison(texts=len(a), same_label=same, max_score_difference=worst)


def require_same(
    a: Sequence[Scores], b: Sequence[Scores], texts: Sequence[str], *, tolerance: float, names: tuple[str, str]
) -> Comparison:
    """`compare`, refusing any differing label or a score differing by more than `tolerance`.

    Raises:
        OutputMismatch: naming the first text that differs and both sides' scores for it.
    """
    comparison = compare(a, b)
    for index, (left, right) in enumerate(zip(a, b, strict=True)):
        differs = top_label(left) != top_label(right) or any(abs(left[k] - right[k]) > tolerance for k in left)
        if differs:
            shown = texts[index] if len(texts[index]) <= 80 else texts[index][:77] + "..."
            raise OutputMismatch(
                f"{names[0]} and {names[1]} answer text {index} ({shown!r}) differently: "
                f"{_rounded(left)} vs {_rounded(right)} (tolerance {tolerance:g})",
                hint="no speed-up is reported for outputs that differ: both sides must run the same model on the "
                "same texts",
            )
    return comparison


def _rounded(scores: Scores) -> dict[str, float]:
    return {label: round(score, 6) for label, score in scores.items()}
