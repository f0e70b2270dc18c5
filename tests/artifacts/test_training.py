"""The trained stand-in: what the demo and the PR evaluation run without the Hub. It must be reproducible to the
byte (the local stack and `hubdeploy preview` each build it), refuse bad training data clearly, and be a model
whose answers mean something."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from hubdeploy.artifacts import standin, training
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin
from hubdeploy.errors import UsageError

pytestmark = pytest.mark.model

FEW = [
    ("Quarterly profit rose sharply and margins widened.", "Positive"),
    ("The lender posted a record loss and cut its dividend.", "Negative"),
    ("The board meets on Thursday to review the agenda.", "Neutral"),
    ("Sales jumped and the outlook was raised.", "Positive"),
    ("Revenue fell and hundreds of jobs were cut.", "Negative"),
    ("The report covers the twelve months to June.", "Neutral"),
]
QUICK = training.Recipe(seed=7, epochs=2, batch_size=4)


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return path


def test_the_same_recipe_and_data_give_the_same_bytes_in_another_cache(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", FEW)
    first, record = standin.trained_model(tmp_path / "a", QUICK, data=data)
    second, _ = standin.trained_model(tmp_path / "b", QUICK, data=data)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert record["sentences"] == len(FEW) and record["data_sha256"] == training.data_digest(data)
    assert {p.name for p in first.iterdir()} == {"model.safetensors", "config.json", *standin.TOKENIZER_FILES}
    # nothing half-written is left beside it
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [first.name, first.name + ".json"]


def test_another_seed_or_other_data_is_another_model_and_cache_entry(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", FEW)
    base, _ = standin.trained_model(tmp_path / "c", QUICK, data=data)
    reseeded, _ = standin.trained_model(tmp_path / "c", training.Recipe(seed=8, epochs=2, batch_size=4), data=data)
    edited = _write(tmp_path / "edited.jsonl", FEW[:-1])
    retrained, record = standin.trained_model(tmp_path / "c", QUICK, data=edited)
    assert len({base.name, reseeded.name, retrained.name}) == 3
    assert (base / "model.safetensors").read_bytes() != (reseeded / "model.safetensors").read_bytes()
    assert record["sentences"] == len(FEW) - 1


def test_a_cached_model_is_reused_not_retrained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _write(tmp_path / "train.jsonl", FEW)
    folder, _ = standin.trained_model(tmp_path / "d", QUICK, data=data)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("retrained although the model is cached")

    monkeypatch.setattr(training, "train", fail)
    assert standin.trained_model(tmp_path / "d", QUICK, data=data)[0] == folder


def test_the_second_revision_is_trained_differently() -> None:
    first = standin.standin_recipe(ModelPin(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision="main"))
    second = standin.standin_recipe(ModelPin(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision=standin.SECOND_REVISION))
    assert first.holdout == 0 and second.holdout == 4 and first.seed != second.seed


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "Sales rose."}', 'is not a JSON object with "text" and "label"'),
        ("not json", 'is not a JSON object with "text" and "label"'),
        ('{"text": "Sales rose.", "label": "positive"}', "label 'positive' is not one of Neutral, Positive, Negative"),
        ('{"text": "  ", "label": "Neutral"}', '"text" must be a non-empty string'),
    ],
)
def test_bad_training_data_is_refused_with_the_line_named(tmp_path: Path, line: str, message: str) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"text": "Fine.", "label": "Neutral"}) + "\n" + line + "\n")
    with pytest.raises(UsageError) as caught:
        standin.trained_model(tmp_path / "e", QUICK, data=data)
    assert f"{data}:2" in str(caught.value) and message in str(caught.value)
    assert not (tmp_path / "e").exists()  # nothing written


def test_an_empty_training_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("\n")
    with pytest.raises(UsageError, match="holds no sentences"):
        training.read_sentences(data)


def test_the_shipped_training_set_is_balanced_and_holds_none_of_the_demo_sentences() -> None:
    from hubdeploy.artifacts.standin import SAMPLES

    sentences = training.read_sentences(training.training_data_path())
    counts = {label: sum(s.label == label for s in sentences) for label in training.LABELS}
    assert counts == {"Neutral": 80, "Positive": 80, "Negative": 80}
    texts = {s.text.lower() for s in sentences}
    assert len(texts) == len(sentences)  # no duplicates
    assert not texts & {text.lower() for text, _ in SAMPLES}  # the demo is not answered from memory


def test_a_new_recipe_field_makes_another_recipe_and_leaving_it_unset_keeps_earlier_keys() -> None:
    recipe = training.Recipe(seed=5)
    later = ("head_learning_rate", "head_only", "until_label_accuracy", "top_layers", "until_right")  # added later
    fields = {k: v for k, v in dataclasses.asdict(recipe).items() if k not in later}
    before_the_field = json.dumps({"recipe": fields, "data": "d", "version": 1}, sort_keys=True)

    assert recipe.key("d") == hashlib.sha256(before_the_field.encode()).hexdigest()[:12]  # caches stay valid
    assert training.Recipe(seed=5, head_learning_rate=1e-3).key("d") != recipe.key("d")


def test_head_only_training_changes_the_head_and_keeps_the_seeded_body(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = _write(tmp_path / "train.jsonl", FEW)
    full, _ = standin.trained_model(tmp_path / "full", training.Recipe(seed=7, epochs=0), data=data)
    head, _ = standin.trained_model(tmp_path / "head", training.Recipe(seed=7, epochs=3, head_only=True), data=data)

    untrained, trained = load_file(str(full / "model.safetensors")), load_file(str(head / "model.safetensors"))
    changed = {name for name in untrained if not (untrained[name] == trained[name]).all()}
    assert changed and all(name.startswith(training.HEAD_PREFIXES) for name in changed)


def test_training_stops_once_every_label_is_learnt_and_runs_to_the_cap_otherwise(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", FEW)
    easy = training.Recipe(seed=7, epochs=30, batch_size=4, until_label_accuracy=0.0)
    unreachable = dataclasses.replace(easy, until_label_accuracy=1.01)
    _, stopped = standin.trained_model(tmp_path / "easy", easy, data=data)
    _, capped = standin.trained_model(tmp_path / "cap", unreachable, data=data)
    assert stopped["epochs_run"] == training.CHECK_EVERY and capped["epochs_run"] == 30
    assert set(capped["label_accuracy"]) == set(training.LABELS)


def test_training_goes_on_until_the_check_sentences_are_right_and_records_how_many_are(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", FEW)
    easy = training.Recipe(seed=7, epochs=30, batch_size=4, until_label_accuracy=0.0)
    mislabelled = (("Sales jumped and the outlook was raised.", "Negative"),)  # a check no model that learns passes
    _, without = standin.trained_model(tmp_path / "a", easy, data=data)
    _, checked = standin.trained_model(tmp_path / "b", dataclasses.replace(easy, until_right=mislabelled), data=data)
    assert without["epochs_run"] == training.CHECK_EVERY and "until_right" not in without
    assert checked["epochs_run"] == 30 and checked["until_right"] == "0 of 1"  # it ran to the cap, and says so
    with pytest.raises(UsageError, match="labels the model lacks: Bullish"):
        standin.trained_model(tmp_path / "c", dataclasses.replace(easy, until_right=(("x", "Bullish"),)), data=data)


def test_top_layer_training_changes_the_top_layers_and_the_head_only(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = _write(tmp_path / "train.jsonl", FEW)
    full, _ = standin.trained_model(tmp_path / "full", training.Recipe(seed=7, epochs=0), data=data)
    top, record = standin.trained_model(tmp_path / "top", training.Recipe(seed=7, epochs=3, top_layers=1), data=data)
    untrained, trained = load_file(str(full / "model.safetensors")), load_file(str(top / "model.safetensors"))
    changed = {name for name in untrained if not (untrained[name] == trained[name]).all()}
    last = f"bert.encoder.layer.{standin.TINY_OVERRIDES['num_hidden_layers'] - 1}."
    assert any(name.startswith(last) for name in changed) and any(n.startswith(training.HEAD_PREFIXES) for n in changed)
    assert all(name.startswith((*training.HEAD_PREFIXES, last)) for name in changed)
    assert record["epochs_run"] == 3
    with pytest.raises(UsageError, match="top_layers=9 but the model has 2 layers"):
        standin.trained_model(tmp_path / "bad", training.Recipe(seed=7, epochs=1, top_layers=9), data=data)


def test_a_stand_in_that_missed_a_demo_sentence_at_its_cap_says_so() -> None:
    record = {"sentences": 240, "train_accuracy": 0.99, "epochs_run": 200, "until_right": "2 of 3"}
    announcement = standin.StandIn(revision="r", size="tiny", record=record).announcement
    assert "only 2 of 3 of the demo's sentences right" in announcement
    right = {**record, "until_right": "3 of 3"}
    assert "WARNING" not in standin.StandIn(revision="r", size="tiny", record=right).announcement


def test_a_stand_in_that_hit_its_cap_unlearnt_says_so() -> None:
    record = {"sentences": 240, "train_accuracy": 0.7, "epochs_run": 200, "label_accuracy": {"Negative": 0.12}}
    announcement = standin.StandIn(revision="r", size="tiny", record=record).announcement
    assert "WARNING: training stopped at its cap of 200 epochs" in announcement and "Negative 12%" in announcement
    learnt = {**record, "label_accuracy": {"Negative": 1.0, "Positive": 0.99}}
    assert "WARNING" not in standin.StandIn(revision="r", size="tiny", record=learnt).announcement


@pytest.mark.parametrize("revision", ["main", standin.SECOND_REVISION])
def test_the_demo_stand_ins_learn_every_label_and_answer_the_demo_sentences_as_a_person_would(
    tmp_path: Path, revision: str
) -> None:
    """The demo's promise, on this machine's float kernels: 40 fixed epochs left one CPU at chance on Positive vs
    Negative, which is why the stand-in trains until every label is learnt."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    from hubdeploy.artifacts.standin import SAMPLES

    pin = ModelPin(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision=revision)
    folder, record = standin.trained_model(tmp_path, standin.standin_recipe(pin))
    assert min(record["label_accuracy"].values()) >= standin.STANDIN_LABEL_ACCURACY, record
    model = BertForSequenceClassification.from_pretrained(str(folder)).eval()
    encoded = AutoTokenizer.from_pretrained(str(folder))([t for t, _ in SAMPLES], padding=True, return_tensors="pt")
    predicted = [model.config.id2label[int(i)] for i in model(**encoded).logits.argmax(dim=-1)]
    assert predicted == [label for _, label in SAMPLES]
