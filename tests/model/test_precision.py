"""fp32 against int8 on a model whose answers mean something: a briefly trained stand-in, not the random tiny
model (whose near-uniform scores make its top label a coin toss between ties, so agreement there says nothing)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from hubdeploy.artifacts import standin, training

pytestmark = pytest.mark.model

EVALUATION_SET = Path(__file__).resolve().parents[2] / "evaluation" / "sentences.jsonl"
# Enough epochs for confident answers (top score ~0.6 on average, against 0.34 for the random model) in seconds.
BRIEF = training.Recipe(seed=3, epochs=10)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _ = standin.trained_model(tmp_path_factory.mktemp("trained"), BRIEF)
    return folder


def test_int8_agrees_with_fp32_on_the_evaluation_set_for_a_trained_model(
    inference: ModuleType, trained_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [s.text for s in training.read_sentences(EVALUATION_SET)]
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")
    fp32 = inference.model_fn(str(trained_dir))
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "int8")
    int8 = inference.model_fn(str(trained_dir))

    p32, p8 = inference.classify(fp32, texts), inference.classify(int8, texts)

    assert float(p32.max(-1).values.mean()) > 0.5  # the answers have margins: agreement is meaningful
    assert not p32.equal(p8)  # int8 really ran: its scores differ
    agreement = float((p32.argmax(-1) == p8.argmax(-1)).float().mean())
    assert agreement >= 0.99  # the evaluation's default gate (min_int8_agreement)
    assert float((p32 - p8).abs().max()) < 0.1
