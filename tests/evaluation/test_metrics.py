"""The evaluation's numbers against a small case worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest

from hubdeploy.errors import UsageError
from hubdeploy.evaluation import metrics
from hubdeploy.evaluation.metrics import Prediction

pytestmark = pytest.mark.unit

LABELS = ("Neutral", "Positive", "Negative")
TEXTS = ["s0", "s1", "s2", "s3", "s4", "s5"]
GOLD = ["Neutral", "Neutral", "Positive", "Positive", "Negative", "Negative"]


def p(neutral: float, positive: float, negative: float) -> Prediction:
    scores = {"Neutral": neutral, "Positive": positive, "Negative": negative}
    return Prediction(label=max(scores, key=lambda k: scores[k]), scores=scores)


# base predicts N P P P Neg N; head predicts N N P Neg Neg Neg
BASE = [p(0.8, 0.1, 0.1), p(0.3, 0.6, 0.1), p(0.1, 0.8, 0.1), p(0.2, 0.7, 0.1), p(0.1, 0.1, 0.8), p(0.5, 0.2, 0.3)]
HEAD = [p(0.7, 0.2, 0.1), p(0.6, 0.3, 0.1), p(0.1, 0.8, 0.1), p(0.1, 0.3, 0.6), p(0.1, 0.1, 0.8), p(0.1, 0.1, 0.8)]


def test_accuracy_recall_and_macro_f1_of_a_hand_worked_case() -> None:
    # base: right on s0, s2, s3, s4 -> 4/6
    assert metrics.accuracy(GOLD, BASE) == pytest.approx(4 / 6)
    # head: right on s0, s1, s2, s4, s5 -> 5/6
    assert metrics.accuracy(GOLD, HEAD) == pytest.approx(5 / 6)
    # base recall: Neutral 1 of 2 (s0), Positive 2 of 2, Negative 1 of 2 (s4)
    assert metrics.recall(GOLD, BASE, LABELS) == {"Neutral": 0.5, "Positive": 1.0, "Negative": 0.5}
    assert metrics.recall(GOLD, HEAD, LABELS) == {"Neutral": 1.0, "Positive": 0.5, "Negative": 1.0}
    # base precision: Neutral predicted on s0, s5 -> 1/2; Positive on s1, s2, s3 -> 2/3; Negative on s4 -> 1/1
    # F1: Neutral 2*.5*.5/(.5+.5) = 0.5; Positive 2*(2/3)*1/(5/3) = 0.8; Negative 2*1*.5/1.5 = 2/3
    assert metrics.macro_f1(GOLD, BASE) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)  # 0.6556
    # head precision: Neutral 2/2, Positive 1/1, Negative 2/3 -> F1 1, 2/3, 0.8
    assert metrics.macro_f1(GOLD, HEAD) == pytest.approx((1 + 2 / 3 + 0.8) / 3)  # 0.8222


def test_a_label_no_sentence_has_gets_no_recall_and_counts_in_macro_f1_only_when_predicted() -> None:
    gold, predicted = ["Neutral", "Neutral"], [p(0.9, 0.05, 0.05), p(0.1, 0.8, 0.1)]
    assert metrics.recall(gold, predicted, LABELS) == {"Neutral": 0.5, "Positive": None, "Negative": None}
    # Neutral: precision 1, recall 1/2 -> F1 2/3; Positive: predicted once, never right -> 0; Negative: absent
    assert metrics.macro_f1(gold, predicted) == pytest.approx((2 / 3 + 0) / 2)


def test_flips_and_score_change_of_a_hand_worked_case() -> None:
    flips = metrics.flips(TEXTS, BASE, HEAD)
    # s1 Positive -> Neutral, s3 Positive -> Negative, s5 Neutral -> Negative
    assert [(f.text, f.base.label, f.head.label) for f in flips] == [
        ("s1", "Positive", "Neutral"),
        ("s3", "Positive", "Negative"),
        ("s5", "Neutral", "Negative"),
    ]
    assert flips[0].to_json() == {
        "text": "s1",
        "base_label": "Positive",
        "base_score": 0.6,
        "head_label": "Neutral",
        "head_score": 0.6,
    }
    # per sentence max |head - base| over the labels:
    # s0 .1 (N .8->.7, P .1->.2); s1 .3 (N .3->.6, P .6->.3); s2 0; s3 .5 (Neg .1->.6); s4 0; s5 .5 (Neg .3->.8)
    mean, largest = metrics.score_changes(BASE, HEAD)
    assert mean == pytest.approx((0.1 + 0.3 + 0 + 0.5 + 0 + 0.5) / 6)  # 0.2333
    assert largest == pytest.approx(0.5)


def test_int8_agreement_and_score_difference_of_a_hand_worked_case() -> None:
    # the same model in fp32 and int8: int8 nudges every score a little and turns s3's near-tie around
    fp32 = [p(0.8, 0.1, 0.1), p(0.3, 0.6, 0.1), p(0.1, 0.8, 0.1), p(0.1, 0.46, 0.44)]
    int8 = [p(0.79, 0.11, 0.1), p(0.3, 0.58, 0.12), p(0.1, 0.8, 0.1), p(0.1, 0.43, 0.47)]
    # labels: P P P | N N -> s0 N=N, s1 P=P, s2 P=P, s3 Positive -> Negative: 3 of 4 the same
    assert metrics.agreement(fp32, int8) == pytest.approx(3 / 4)
    assert metrics.agreement(fp32, fp32) == 1.0
    # per sentence max |int8 - fp32| over every label: s0 .01; s1 .02 (P .6->.58, Neg .1->.12); s2 0; s3 .03
    mean, largest = metrics.score_changes(fp32, int8)
    assert mean == pytest.approx((0.01 + 0.02 + 0 + 0.03) / 4)  # 0.015
    assert largest == pytest.approx(0.03)
    with pytest.raises(UsageError, match="4 against 3 predictions"):
        metrics.agreement(fp32, int8[:3])


def test_percentiles_interpolate_between_ranks() -> None:
    # rank = q/100 * (n - 1): p50 of 4 values -> rank 1.5 -> 20 + .5 * 10; p95 -> rank 2.85 -> 30 + .85 * 10
    assert metrics.percentile([40.0, 10.0, 30.0, 20.0], 50) == pytest.approx(25.0)
    assert metrics.percentile([40.0, 10.0, 30.0, 20.0], 95) == pytest.approx(38.5)
    assert metrics.percentile([7.0], 95) == 7.0


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(UsageError, match="5 predictions for 6 sentences"):
        metrics.accuracy(GOLD, BASE[:5])
    with pytest.raises(UsageError):
        metrics.percentile([], 50)
