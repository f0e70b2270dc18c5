"""model/code/inference.py called directly: request parsing, batching, truncation, scores, errors, logging."""

from __future__ import annotations

import itertools
import json
import logging
import random
import warnings
from collections.abc import Iterator

import pytest
import torch

pytestmark = pytest.mark.model

TEXTS = [
    "Operating profit climbed to EUR 41 mn from EUR 29 mn a year earlier, ahead of forecasts.",
    "The company expects net sales to decrease.",
    "Shares were flat.",
    "Finnish Talentum reports its operating profit increased to EUR 20.5 mn in 2005 from EUR 9.3 mn in 2004, "
    "and net sales totaled EUR 103.3 mn, up from EUR 96.4 mn.",
]


def run(inference, classifier, body, content_type="application/json", accept="application/json"):
    data = inference.input_fn(body, content_type)
    return json.loads(inference.output_fn(inference.predict_fn(data, classifier), accept))


def reference_probs(classifier, texts):
    """The plain way: one padded batch in input order, no sorting; what our batching must reproduce."""
    enc = classifier.tokenizer(
        texts, truncation=True, max_length=classifier.max_length, padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        logits = classifier.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    return logits.softmax(-1)


def test_model_fn_uses_the_models_own_labels_and_limit(classifier):
    assert classifier.labels == ("Neutral", "Positive", "Negative")
    assert classifier.max_length == 512


def test_one_entry_per_input_in_input_order_matching_a_plain_forward_pass(inference, classifier):
    body = json.dumps({"inputs": TEXTS}).encode()

    result = run(inference, classifier, body)

    expected = reference_probs(classifier, TEXTS)
    assert len(result) == len(TEXTS)
    for entry, probs in zip(result, expected, strict=True):
        assert set(entry) == {"label", "score"}
        assert entry["label"] == classifier.labels[int(probs.argmax())]
        assert entry["score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_single_string_and_the_seeds_bare_json_forms(inference, classifier):
    wrapped = run(inference, classifier, json.dumps({"inputs": TEXTS[0]}))
    bare_string = run(inference, classifier, json.dumps(TEXTS[0]))
    bare_list = run(inference, classifier, json.dumps(TEXTS[:2]))

    assert len(wrapped) == 1
    assert bare_string == wrapped
    assert bare_list[0] == pytest.approx(wrapped[0])
    assert len(bare_list) == 2


def test_text_over_the_model_limit_is_truncated_not_rejected(inference, classifier):
    long_text = "Revenue grew strongly while margins held. " * 400  # ~2800 tokens
    truncated_ids = classifier.tokenizer(long_text, truncation=True, max_length=512)["input_ids"]
    assert len(classifier.tokenizer(long_text)["input_ids"]) > 2000

    result = run(inference, classifier, json.dumps({"inputs": [long_text, "short"]}))

    head = classifier.tokenizer.decode(truncated_ids[1:-1])
    expected = reference_probs(classifier, [head])[0]
    assert result[0]["label"] == classifier.labels[int(expected.argmax())]
    assert result[0]["score"] == pytest.approx(float(expected.max()), abs=1e-4)


def test_all_scores_when_asked(inference, classifier):
    all_scores = run(inference, classifier, json.dumps({"inputs": TEXTS[0], "parameters": {"return_all_scores": True}}))
    top2 = run(inference, classifier, json.dumps({"inputs": TEXTS[0], "parameters": {"top_k": 2}}))
    pipeline_all = run(inference, classifier, json.dumps({"inputs": TEXTS[0], "parameters": {"top_k": None}}))
    clamped = run(inference, classifier, json.dumps({"inputs": TEXTS[0], "parameters": {"top_k": 99}}))

    scores = all_scores[0]["scores"]
    assert sorted(s["label"] for s in scores) == ["Negative", "Neutral", "Positive"]
    assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-5)
    assert [s["score"] for s in scores] == sorted((s["score"] for s in scores), reverse=True)
    assert scores[0] == {"label": all_scores[0]["label"], "score": all_scores[0]["score"]}
    assert top2[0]["scores"] == scores[:2]
    assert pipeline_all == all_scores == clamped


def test_content_type_with_parameters_and_str_or_bytes_bodies(inference, classifier):
    body = json.dumps({"inputs": "Profit doubled."})
    expected = run(inference, classifier, body)

    assert run(inference, classifier, body.encode(), "application/json; charset=utf-8") == expected
    assert run(inference, classifier, body.encode(), "Application/JSON;charset=UTF-8") == expected
    assert run(inference, classifier, body, None) == expected  # no Content-Type: still parsed as JSON
    assert run(inference, classifier, b"\xef\xbb\xbf" + body.encode()) == expected  # UTF-8 BOM


def test_unicode_text_is_classified(inference, classifier):
    result = run(inference, classifier, json.dumps({"inputs": ["Umsatz stieg um 5 % — 利益増加 📈"]}).encode())
    assert result[0]["label"] in classifier.labels


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"", "application/json", "request body is empty"),
        (b"   ", "application/json", "request body is empty"),
        (b"\xff\xfe{}", "application/json; charset=utf-8", "not valid UTF-8"),
        (b'{"inputs": "x"}', "application/json; charset=latin-1", "charset 'latin-1' is not supported"),
        (b'{"inputs": "x"}', "text/csv", "content type 'text/csv' is not supported"),
        (b'{"text": "x"}', "application/json", "unknown field(s) text"),
        (b'{"parameters": {}}', "application/json", 'missing "inputs"'),
        (b'{"inputs": 42}', "application/json", '"inputs" must be a string or a list of strings, got a number'),
        (b'{"inputs": null}', "application/json", "got null"),
        (b"42", "application/json", "got a number"),
        (b'{"inputs": ""}', "application/json", '"inputs" is empty'),
        (b'{"inputs": "  \\n"}', "application/json", '"inputs" is empty'),
        (b'{"inputs": []}', "application/json", "empty list"),
        (b'{"inputs": ["ok", 3]}', "application/json", '"inputs"[1] must be a string, got a number'),
        (b'{"inputs": ["ok", ""]}', "application/json", '"inputs"[1] is empty'),
        (b'{"inputs": "x", "parameters": []}', "application/json", '"parameters" must be an object'),
        (b'{"inputs": "x", "parameters": {"top_k": 0}}', "application/json", "positive integer, got 0"),
        (b'{"inputs": "x", "parameters": {"top_k": "2"}}', "application/json", 'positive integer, got "2"'),
        (b'{"inputs": "x", "parameters": {"top_k": true}}', "application/json", "positive integer, got true"),
        (b'{"inputs": "x", "parameters": {"return_all_scores": "yes"}}', "application/json", "true or false"),
        (b'{"inputs": "x", "parameters": {"temperature": 1}}', "application/json", "unknown parameter(s) temperature"),
    ],
)
def test_bad_requests_are_client_errors_that_say_what_to_send(inference, classifier, body, content_type, message):
    with pytest.raises(inference.ClientError) as raised:
        run(inference, classifier, body, content_type)
    assert message in str(raised.value)


def test_more_texts_than_the_configured_limit_is_rejected(inference, model_package_dir, monkeypatch):
    monkeypatch.setenv("HUBDEPLOY_MAX_TEXTS", "3")
    small = inference.model_fn(str(model_package_dir))

    assert len(run(inference, small, json.dumps(TEXTS[:3]))) == 3
    with pytest.raises(inference.ClientError, match="4 texts in one request, the limit is 3: split the request"):
        run(inference, small, json.dumps(TEXTS))


def test_accept_must_allow_json(inference, classifier):
    prediction = [{"label": "Positive", "score": 0.9}]
    for accept in (None, "", "application/json", "*/*", "application/json; charset=utf-8", "text/csv, application/*"):
        assert json.loads(inference.output_fn(prediction, accept)) == prediction
    with pytest.raises(inference.ClientError, match="Accept 'text/csv' cannot be served"):
        inference.output_fn(prediction, "text/csv")


def test_request_text_is_never_logged(inference, classifier, caplog):
    secret = "Confidential merger target Zyxwvut Holdings"
    with caplog.at_level(logging.DEBUG):
        run(inference, classifier, json.dumps({"inputs": [secret, secret + " again"]}))
        with pytest.raises(inference.ClientError):
            run(inference, classifier, json.dumps({"inputs": [secret, 7]}))

    assert "classified 2 text(s)" in caplog.text
    assert "Zyxwvut" not in caplog.text


def test_batches_cover_every_text_once_sorted_and_within_budgets(inference):
    lengths = [5, 300, 12, 12, 512, 40, 7, 300, 2, 64]

    batches = list(inference._batches(lengths, batch_size=3, max_batch_tokens=700))

    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths, reverse=True)  # longest first, similar lengths together
    assert all(len(b) <= 3 for b in batches)
    assert all(len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 700 for b in batches)


def test_batches_grow_for_short_texts_but_do_not_pad_long_ones_heavily(inference):
    short = [8] * 100
    mixed = [100] * 6 + [50] * 6

    short_batches = list(inference._batches(short, batch_size=64, max_batch_tokens=8192, overhead_tokens=32))
    mixed_batches = list(inference._batches(mixed, batch_size=64, max_batch_tokens=8192, overhead_tokens=32))

    assert [len(b) for b in short_batches] == [64, 36]  # 8-token texts: only the count limit splits them
    assert [sorted(mixed[i] for i in b) for b in mixed_batches] == [[100] * 6, [50] * 6]


def _splits(items: list[int]) -> Iterator[list[list[int]]]:
    """Every way to cut `items` into consecutive runs."""
    for cuts in itertools.product([False, True], repeat=max(0, len(items) - 1)):
        bounds = [0, *(i + 1 for i, cut in enumerate(cuts) if cut), len(items)]
        yield [items[a:b] for a, b in itertools.pairwise(bounds)]


def _split_cost(runs: list[list[int]], overhead: int) -> int:
    return sum(len(run) * max(run) + overhead for run in runs)


def _within(run: list[int], batch_size: int, budget: int) -> bool:
    return len(run) <= batch_size and (len(run) == 1 or len(run) * max(run) <= budget)


def test_batches_are_the_cheapest_split_of_padding_and_per_batch_cost(inference):
    # given random requests and budgets; when batched; then no split of the longest-first order (brute force) that
    # keeps the budgets costs less, and every text is in exactly one batch
    rng = random.Random(3)
    for _ in range(200):
        lengths = [rng.choice([3, 8, 9, 20, 21, 40, 90, 512]) for _ in range(rng.randint(1, 9))]
        batch_size, budget, overhead = rng.randint(1, 5), rng.choice([40, 200, 2000]), rng.choice([0, 8, 32, 500])
        best = min(
            _split_cost(runs, overhead)
            for runs in _splits(sorted(lengths, reverse=True))
            if all(_within(run, batch_size, budget) for run in runs)
        )
        batches = list(
            inference._batches(lengths, batch_size=batch_size, max_batch_tokens=budget, overhead_tokens=overhead)
        )
        runs = [[lengths[i] for i in batch] for batch in batches]
        assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
        assert all(_within(run, batch_size, budget) for run in runs)
        assert _split_cost(runs, overhead) == best, (lengths, batch_size, budget, overhead)


def test_settings_from_env_and_thread_defaults(inference):
    settings = inference.ServingSettings.from_env(
        {"HUBDEPLOY_MAX_TEXTS": "10", "HUBDEPLOY_BATCH_SIZE": "8", "HUBDEPLOY_AUTOCAST": "OFF"}
    )
    assert (settings.max_texts, settings.batch_size, settings.autocast) == (10, 8, "off")
    assert inference.ServingSettings.from_env({}) == inference.ServingSettings()
    with pytest.raises(ValueError, match="HUBDEPLOY_MAX_TEXTS='lots' is not an integer"):
        inference.ServingSettings.from_env({"HUBDEPLOY_MAX_TEXTS": "lots"})
    with pytest.raises(ValueError, match="HUBDEPLOY_BATCH_SIZE=0 must be at least 1"):
        inference.ServingSettings.from_env({"HUBDEPLOY_BATCH_SIZE": "0"})
    with pytest.raises(ValueError, match="HUBDEPLOY_AUTOCAST='fp8'"):
        inference.ServingSettings.from_env({"HUBDEPLOY_AUTOCAST": "fp8"})
    assert inference.ServingSettings.from_env({}).precision == "fp32"
    assert inference.ServingSettings.from_env({"HUBDEPLOY_PRECISION": " INT8 "}).precision == "int8"
    assert inference.ServingSettings.from_env({"HUBDEPLOY_PRECISION": ""}).precision == "fp32"
    with pytest.raises(ValueError, match="HUBDEPLOY_PRECISION='int4' is not one of fp32, int8"):
        inference.ServingSettings.from_env({"HUBDEPLOY_PRECISION": "int4"})

    # MMS starts one worker per vCPU unless told otherwise: one thread each; one worker gets every core.
    assert inference.default_num_threads(cpus=8, workers=None) == 1
    assert inference.default_num_threads(cpus=8, workers=1) == 8
    assert inference.default_num_threads(cpus=8, workers=3) == 2
    assert inference.default_num_threads(cpus=2, workers=4) == 1
    assert inference.available_cpus({"SM_NUM_CPUS": "16"}) == 16
    assert inference.available_cpus({}) >= 1


def test_model_fn_sets_the_thread_count_and_limit_overrides(inference, model_package_dir, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("HUBDEPLOY_NUM_THREADS", "1")
    monkeypatch.setenv("HUBDEPLOY_MAX_LENGTH", "4096")  # above the model's limit: capped at 512
    try:
        loaded = inference.model_fn(str(model_package_dir))
        assert torch.get_num_threads() == 1
        assert loaded.max_length == 512
        assert loaded.autocast_dtype is None  # CPU stays fp32
    finally:
        torch.set_num_threads(before)


def test_autocast_only_on_gpu_preferring_bf16(inference, monkeypatch):
    gpu, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert inference._autocast_dtype("auto", gpu) is torch.bfloat16
    assert inference._autocast_dtype("fp16", gpu) is torch.float16
    assert inference._autocast_dtype("off", gpu) is None
    assert inference._autocast_dtype("bf16", cpu) is None  # CPU always runs fp32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # e.g. T4 (ml.g4dn)
    assert inference._autocast_dtype("auto", gpu) is torch.float16


def test_autocast_path_runs_and_returns_fp32_probabilities(inference, classifier):
    # The GPU path's mechanics, exercised with CPU bf16 autocast (no GPU here).
    import dataclasses

    mixed = dataclasses.replace(classifier, autocast_dtype=torch.bfloat16)

    probs = inference.classify(mixed, TEXTS)

    assert probs.dtype == torch.float32
    assert torch.allclose(probs.sum(-1), torch.ones(len(TEXTS)), atol=1e-5)
    assert torch.allclose(probs, inference.classify(classifier, TEXTS), atol=2e-2)


def test_the_evaluation_runner_knows_the_default_limit_on_texts_per_request(inference) -> None:
    # hubdeploy.evaluation.runner restates it (it raises the limit only for batches above it): one fact, kept equal
    from hubdeploy.evaluation.runner import INFERENCE_MAX_TEXTS

    assert inference.ServingSettings().max_texts == INFERENCE_MAX_TEXTS


def test_int8_weights_have_a_scale_per_row_so_a_row_of_small_weights_keeps_its_precision(inference) -> None:
    # given a Linear whose rows differ in scale by 100x, as trained BERT rows do by less
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 8)
    with torch.no_grad():
        layer.weight.mul_(torch.logspace(-2, 0, 8).unsqueeze(1))
    x = torch.randn(32, 64)
    exact = layer(x)
    # when quantized by model_fn's routine, and by one scale for the whole matrix
    per_row = inference.quantize_int8(torch.nn.Sequential(layer))
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch 2.13 calls the API deprecated; the container's torch 2.6 does not
        warnings.simplefilter("ignore")
        per_matrix = quantize_dynamic(torch.nn.Sequential(layer), {torch.nn.Linear}, dtype=torch.qint8)
    # then the smallest row's outputs are far closer to fp32 with a scale per row
    with torch.inference_mode():
        error_row = (per_row(x) - exact)[:, 0].abs().max()
        error_matrix = (per_matrix(x) - exact)[:, 0].abs().max()
    assert error_row < error_matrix / 10


def test_int8_quantizes_every_linear_layer_and_answers_in_the_same_shape(
    inference, classifier, model_package_dir, monkeypatch
):
    # given the tiny model loaded with HUBDEPLOY_PRECISION=int8
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "int8")
    quantized = inference.model_fn(str(model_package_dir))
    # then no float nn.Linear is left: every one is torch's dynamically quantized qint8 Linear
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    linears = [m for m in quantized.model.modules() if isinstance(m, torch.nn.Linear | DynamicLinear)]
    assert linears and all(type(m) is DynamicLinear for m in linears)
    assert {m.weight().dtype for m in linears} == {torch.qint8}
    assert {m.weight().qscheme() for m in linears} == {torch.per_channel_affine}  # a scale per output row
    assert quantized.settings.precision == "int8" and classifier.settings.precision == "fp32"
    # and it answers as fp32 does in form: one entry per text, the model's labels, all scores summing to 1
    body = json.dumps({"inputs": TEXTS, "parameters": {"return_all_scores": True}})
    int8, fp32 = run(inference, quantized, body), run(inference, classifier, body)
    assert [set(e) for e in int8] == [set(e) for e in fp32] == [{"label", "score", "scores"}] * len(TEXTS)
    for entry in int8:
        assert {s["label"] for s in entry["scores"]} == set(classifier.labels)
        assert sum(s["score"] for s in entry["scores"]) == pytest.approx(1.0, abs=1e-5)


def test_int8_on_a_gpu_worker_fails_the_load_instead_of_idling_the_gpu(inference, model_package_dir, monkeypatch):
    # given a worker that sees a GPU (torch's dynamic int8 kernels are CPU only)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "int8")
    # then the load fails before anything is moved to the GPU, saying what to do
    with pytest.raises(ValueError, match=r"HUBDEPLOY_PRECISION=int8 runs on CPU only .* this worker has cuda:0: serve"):
        inference.model_fn(str(model_package_dir))
