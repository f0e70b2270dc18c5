"""The stand-in model fixture is what every model test stands on: it must load through the real
Hugging Face code paths, offline."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import snapshot_download

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID

pytestmark = pytest.mark.model


def test_standin_has_finbert_labels_and_tokenizer(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "Neutral", "1": "Positive", "2": "Negative"}
    assert {p.name for p in tiny_model_dir.iterdir()} >= {"vocab.txt", "model.safetensors", "config.json"}


def test_offline_cache_serves_the_pinned_revision(hf_cache):
    cache, revision = hf_cache
    folder = snapshot_download(DEFAULT_HUB_MODEL_ID, revision=revision, cache_dir=cache)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label[1] == "Positive"
    assert tokenizer("profits rose")["input_ids"][0] == tokenizer.cls_token_id
