"""The evaluation set shipped in evaluation/sentences.jsonl: readable, balanced, and not a copy of what the
stand-in was trained on (an evaluation on training sentences would flatter every model)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from hubdeploy.artifacts import training

pytestmark = pytest.mark.unit

# Word-set overlap (Jaccard) above this would be a near-copy: the closest pair measured today is 0.47.
NEAR_COPY = 0.6


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_the_evaluation_set_is_large_and_balanced(repo_root: Path) -> None:
    sentences = training.read_sentences(repo_root / "evaluation" / "sentences.jsonl")
    counts = Counter(s.label for s in sentences)
    assert len(sentences) >= 200
    assert set(counts) == set(training.LABELS)
    assert max(counts.values()) - min(counts.values()) <= len(sentences) // 10
    assert len({s.text for s in sentences}) == len(sentences), "a sentence is listed twice"


def test_no_evaluation_sentence_copies_a_training_sentence(repo_root: Path) -> None:
    evaluation = training.read_sentences(repo_root / "evaluation" / "sentences.jsonl")
    trained_on = [_words(s.text) for s in training.read_sentences(training.training_data_path())]
    for sentence in evaluation:
        words = _words(sentence.text)
        closest = max(len(words & other) / len(words | other) for other in trained_on)
        assert closest < NEAR_COPY, f"{sentence.text!r} nearly copies a training sentence ({closest:.2f})"
