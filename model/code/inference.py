"""Sequence-classification serving code for the Hugging Face SageMaker inference toolkit.

Packed into model.tar.gz as `code/inference.py`; the toolkit (`SAGEMAKER_PROGRAM=inference.py`) imports it
and calls `model_fn` once per worker, then `input_fn` -> `predict_fn` -> `output_fn` per request.

Request (JSON; `application/json`, parameters such as `; charset=utf-8` allowed):
    {"inputs": "text"} | {"inputs": ["t1", "t2"]} | "text" | ["t1", "t2"]
    optional "parameters": {"top_k": N, "return_all_scores": bool}
Response: one entry per input, in input order:
    [{"label": "Positive", "score": 0.98}, ...]
    with "scores": [{"label": ..., "score": ...}, ...] (best first) when top_k > 1 or return_all_scores.

It runs unchanged under the transformers 4.x of AWS's Hugging Face PyTorch inference container and under
transformers 5.x: only AutoTokenizer/AutoModelForSequenceClassification.from_pretrained, the tokenizer's
__call__ and the model's forward are used. Request texts are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, overload

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
# Accept values the JSON response satisfies.
JSON_ACCEPTS = frozenset({JSON_CONTENT_TYPE, "application/*", "*/*"})
SUPPORTED_PARAMETERS = ("top_k", "return_all_scores", "truncation")
# Batching: what one more batch costs, in padded tokens' worth of time (the fixed cost of a forward pass and its
# smaller matrix multiplies). Measured on BERT-base, one CPU thread: a 1 x 32-token batch took as long as about 50
# tokens in large batches, and splitting by this cost ran the bench's requests 7% faster than a 20% padding rule.
BATCH_OVERHEAD_TOKENS = 32
# Tokenizers without a configured limit report a huge sentinel (int(1e30)); anything above this is "unset".
UNSET_MODEL_MAX_LENGTH = 1_000_000
# HUBDEPLOY_PRECISION: fp32 weights, or nn.Linear layers dynamically quantized to int8 (CPU only).
PRECISIONS = ("fp32", "int8")


class ClientError(ValueError):
    """A request the client has to fix. The toolkit answers any exception with HTTP 400 and its message."""


@dataclass(frozen=True)
class ServingSettings:
    """Tunables read from the model container's environment (SageMaker model `environment`).

    Attributes:
        max_texts: most texts accepted in one request (HUBDEPLOY_MAX_TEXTS).
        batch_size: most texts per forward pass (HUBDEPLOY_BATCH_SIZE).
        max_batch_tokens: most padded tokens per forward pass, bounds memory for long texts
            (HUBDEPLOY_MAX_BATCH_TOKENS).
        max_length: token limit per text; None = the model's own limit (HUBDEPLOY_MAX_LENGTH, capped at it).
        num_threads: torch intra-op threads; None = derived from the CPUs and model-server workers
            (HUBDEPLOY_NUM_THREADS).
        autocast: "auto" (bf16/fp16 on GPU, fp32 on CPU), "off", "bf16" or "fp16" (HUBDEPLOY_AUTOCAST).
        precision: "fp32", or "int8": every nn.Linear dynamically quantized to qint8, CPU only
            (HUBDEPLOY_PRECISION).
    """

    max_texts: int = 128
    batch_size: int = 64
    max_batch_tokens: int = 8192
    max_length: int | None = None
    num_threads: int | None = None
    autocast: str = "auto"
    precision: str = "fp32"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServingSettings:
        """Read the HUBDEPLOY_* variables; a malformed value fails the model load with a clear message."""
        env = os.environ if env is None else env
        autocast = env.get("HUBDEPLOY_AUTOCAST", cls.autocast).strip().lower()
        if autocast not in ("auto", "off", "bf16", "fp16"):
            raise ValueError(f"HUBDEPLOY_AUTOCAST={autocast!r} is not one of auto, off, bf16, fp16")
        precision = env.get("HUBDEPLOY_PRECISION", "").strip().lower() or cls.precision
        if precision not in PRECISIONS:
            raise ValueError(
                f"HUBDEPLOY_PRECISION={precision!r} is not one of {', '.join(PRECISIONS)} "
                "(fp32: full precision; int8: Linear layers dynamically quantized, CPU only)"
            )
        return cls(
            max_texts=_positive_int(env, "HUBDEPLOY_MAX_TEXTS", cls.max_texts),
            batch_size=_positive_int(env, "HUBDEPLOY_BATCH_SIZE", cls.batch_size),
            max_batch_tokens=_positive_int(env, "HUBDEPLOY_MAX_BATCH_TOKENS", cls.max_batch_tokens),
            max_length=_positive_int(env, "HUBDEPLOY_MAX_LENGTH", None),
            num_threads=_positive_int(env, "HUBDEPLOY_NUM_THREADS", None),
            autocast=autocast,
            precision=precision,
        )


@overload
def _positive_int(env: Mapping[str, str], name: str, default: int) -> int: ...
@overload
def _positive_int(env: Mapping[str, str], name: str, default: None) -> int | None: ...
def _positive_int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    """`name`'s value as an int >= 1, `default` when unset; a ValueError naming the variable otherwise."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1")
    return value


@dataclass
class Classifier:
    """What `model_fn` returns and `predict_fn` receives."""

    model: Any
    tokenizer: Any
    labels: tuple[str, ...]
    device: torch.device
    max_length: int
    pad_token_id: int
    autocast_dtype: torch.dtype | None
    settings: ServingSettings


@dataclass(frozen=True)
class ClassifyRequest:
    """A validated request: the texts and how many scores to return per text (1 = only the top label)."""

    texts: list[str]
    top_k: int


def default_num_threads(*, cpus: int, workers: int | None) -> int:
    """Intra-op threads per worker: the CPUs shared out between the model server's workers.

    The multi-model server starts one worker per vCPU on CPU instances unless SAGEMAKER_MODEL_SERVER_WORKERS
    says otherwise; oversubscribing cores (every worker using every core) makes all of them slower.
    """
    workers = workers or cpus
    return max(1, cpus // max(1, workers))


def available_cpus(env: Mapping[str, str] | None = None) -> int:
    """CPUs this process may use: SM_NUM_CPUS when SageMaker sets it, else the CPU affinity mask."""
    env = os.environ if env is None else env
    raw = env.get("SM_NUM_CPUS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _model_max_length(tokenizer: Any, config: Any, override: int | None) -> int:
    candidates = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < UNSET_MODEL_MAX_LENGTH:
        candidates.append(tok_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        candidates.append(positions)
    limit = min(candidates) if candidates else 512
    return min(limit, override) if override else limit


def _autocast_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or mode == "off":
        # CPU stays fp32: bf16 autocast is only faster on CPUs with AMX/AVX512-BF16 and shifts scores.
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def quantize_int8(model: Any) -> Any:
    """`model` with every nn.Linear replaced by a dynamically quantized one (qint8 weights, fp32 activations).

    Weights are quantized once here, each output row with its own scale (per channel): one scale per matrix lets
    the row with the largest weights set the step for all, and on the bench's trained stand-in that flipped 6 of
    512 labels where per-channel scales flip 4, at the same speed. Activations are quantized per batch at run time,
    so no calibration data is needed. torch.ao.quantization.quantize_dynamic is in the container's torch 2.6 and
    still in torch 2.13 (deprecated there in favour of torchao, which the container does not ship). Its kernels
    (x86/fbgemm, qnnpack) are CPU only.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch >= 2.10 warns once per worker that the API is deprecated; the container's torch 2.6 does not.
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor.* are deprecated", category=UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "int8" and device.type != "cpu":
        # Not silently moved to CPU: that would leave the instance's GPU idle and serve far slower than fp32 on it.
        raise ValueError(
            f"HUBDEPLOY_PRECISION=int8 runs on CPU only (torch's dynamic int8 quantization has no {device.type} "
            f"kernels), and this worker has {device}: serve GPU instances in fp32 (they already use bf16/fp16 "
            "autocast), or choose a CPU instance type"
        )


def model_fn(model_dir: str, context: Any = None) -> Classifier:
    """Load tokenizer and model from `model_dir` (the unpacked model.tar.gz).

    Args:
        model_dir: folder holding config.json, the weights and the tokenizer files.
        context: the model server's context; its `gpu_id` picks the GPU when one is present.

    Returns:
        The loaded classifier, ready for `predict_fn`.
    """
    settings = ServingSettings.from_env()
    workers_raw = os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "").strip()
    cpus = available_cpus()
    threads = settings.num_threads or default_num_threads(
        cpus=cpus, workers=int(workers_raw) if workers_raw.isdigit() else None
    )
    torch.set_num_threads(threads)

    device = torch.device("cpu")
    if torch.cuda.is_available():
        gpu_id = 0
        if context is not None:
            gpu_id = int((getattr(context, "system_properties", None) or {}).get("gpu_id") or 0)
        device = torch.device("cuda", gpu_id)
    _check_precision(settings.precision, device)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    # Weights stay fp32 (autocast handles reduced precision on GPU); some checkpoints are stored in fp16.
    model = model.to(device=device, dtype=torch.float32).eval()
    if settings.precision == "int8":
        model = quantize_int8(model)
    id2label = model.config.id2label or {}
    labels = tuple(str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model.config.num_labels))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    classifier = Classifier(
        model=model,
        tokenizer=tokenizer,
        labels=labels,
        device=device,
        max_length=_model_max_length(tokenizer, model.config, settings.max_length),
        pad_token_id=int(pad_id),
        autocast_dtype=_autocast_dtype(settings.autocast, device),
        settings=settings,
    )
    logger.info(
        "model loaded: labels=%s device=%s precision=%s threads=%d max_length=%d autocast=%s max_texts=%d",
        ",".join(labels),
        device,
        settings.precision,
        threads,
        classifier.max_length,
        classifier.autocast_dtype,
        settings.max_texts,
    )
    return classifier


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """Split `application/json; charset=utf-8` into ("application/json", {"charset": "utf-8"})."""
    if not content_type:
        return "", {}
    head, *params = content_type.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"').lower()
    return head.strip().lower(), parsed


def _decode_body(input_data: str | bytes | bytearray | None, charset: str | None) -> str:
    if input_data is None:
        return ""
    if isinstance(input_data, str):
        return input_data
    if charset and charset.replace("-", "").replace("_", "") not in ("utf8", "usascii", "ascii"):
        raise ClientError(f"charset {charset!r} is not supported: send the JSON body encoded as UTF-8")
    try:
        return bytes(input_data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClientError(f"request body is not valid UTF-8 (byte {exc.start}): send UTF-8 encoded JSON") from None


def parse_request(payload: Any, *, max_texts: int, num_labels: int) -> ClassifyRequest:
    """Validate a decoded JSON payload into texts and options.

    Raises:
        ClientError: the payload has the wrong shape; the message says what to send instead.
    """
    parameters: Any = {}
    if isinstance(payload, dict):
        unknown = sorted(set(payload) - {"inputs", "parameters"})
        if unknown:
            raise ClientError(f'unknown field(s) {", ".join(unknown)}: send {{"inputs": ..., "parameters": {{...}}}}')
        if "inputs" not in payload:
            raise ClientError('missing "inputs": send {"inputs": "text"} or {"inputs": ["text", ...]}')
        inputs = payload["inputs"]
        parameters = payload.get("parameters")
        if parameters is None:
            parameters = {}
    else:
        inputs = payload  # the seed's bare JSON string or list

    if isinstance(inputs, str):
        texts = [inputs]
    elif isinstance(inputs, list):
        texts = inputs
    else:
        raise ClientError(f'"inputs" must be a string or a list of strings, got {_json_type(inputs)}')
    if not texts:
        raise ClientError('"inputs" is an empty list: send at least one text')
    if len(texts) > max_texts:
        raise ClientError(f"{len(texts)} texts in one request, the limit is {max_texts}: split the request")
    for index, text in enumerate(texts):
        where = '"inputs"' if isinstance(inputs, str) else f'"inputs"[{index}]'
        if not isinstance(text, str):
            raise ClientError(f"{where} must be a string, got {_json_type(text)}")
        if not text.strip():
            raise ClientError(f"{where} is empty: send non-blank text")
    return ClassifyRequest(texts=texts, top_k=_parse_top_k(parameters, num_labels))


def _parse_top_k(parameters: Any, num_labels: int) -> int:
    if not isinstance(parameters, dict):
        raise ClientError(f'"parameters" must be an object, got {_json_type(parameters)}')
    unknown = sorted(set(parameters) - set(SUPPORTED_PARAMETERS))
    if unknown:
        raise ClientError(f"unknown parameter(s) {', '.join(unknown)}: supported are {', '.join(SUPPORTED_PARAMETERS)}")
    for flag in ("return_all_scores", "truncation"):  # truncation is always on; accepted for pipeline clients
        if flag in parameters and not isinstance(parameters[flag], bool):
            raise ClientError(f'"parameters.{flag}" must be true or false, got {_json_type(parameters[flag])}')
    if parameters.get("return_all_scores"):
        return num_labels
    top_k = parameters.get("top_k", 1)
    if top_k is None:  # the pipeline's spelling of "all scores"
        return num_labels
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ClientError(f'"parameters.top_k" must be a positive integer, got {json.dumps(top_k)}')
    return min(top_k, num_labels)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def input_fn(input_data: str | bytes | None, content_type: str | None, context: Any = None) -> Any:
    """Decode the request body into a JSON value (validated against the model in `predict_fn`).

    Raises:
        ClientError: unsupported content type, non-UTF-8 bytes, empty body or malformed JSON.
    """
    media_type, params = _media_type(content_type)
    # No Content-Type at all is treated as JSON: some clients omit it, and the body is still checked.
    if media_type and media_type != JSON_CONTENT_TYPE:
        raise ClientError(f"content type {media_type!r} is not supported: send {JSON_CONTENT_TYPE}")
    body = _decode_body(input_data, params.get("charset"))
    if not body.strip():
        raise ClientError('request body is empty: send {"inputs": "text"} or {"inputs": ["text", ...]}')
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ClientError(f"request body is not valid JSON ({exc.msg} at {where})") from None


def _batches(
    lengths: list[int], *, batch_size: int, max_batch_tokens: int, overhead_tokens: int = BATCH_OVERHEAD_TOKENS
) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first), at the least cost.

    The cost of a split is its padded tokens (rows x each batch's longest text) plus `overhead_tokens` per batch;
    over the texts sorted longest first, the cheapest split into runs of at most `batch_size` texts and
    `max_batch_tokens` padded tokens (a text alone is always allowed) is found exactly, by dynamic programming
    over where each batch ends (len(lengths) x batch_size steps: about a millisecond for 128 texts, against seconds
    of inference).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    width = [lengths[i] for i in order]
    cost = [0] * (len(order) + 1)  # cost[j]: the cheapest split of the first j texts
    start = [0] * (len(order) + 1)  # start[j]: where the last batch of that split starts
    for end in range(1, len(order) + 1):
        cost[end], start[end] = cost[end - 1] + width[end - 1] + overhead_tokens, end - 1  # the last text alone
        # a batch of texts first .. end-1; on a tie the longer texts get the fuller batch
        for first in range(end - 2, max(0, end - batch_size) - 1, -1):
            rows = end - first
            if rows * width[first] > max_batch_tokens:
                break  # starting earlier only makes the batch longer and wider
            candidate = cost[first] + rows * width[first] + overhead_tokens
            if candidate < cost[end]:
                cost[end], start[end] = candidate, first
    cuts = []
    end = len(order)
    while end:
        cuts.append((start[end], end))
        end = start[end]
    for first, end in reversed(cuts):
        yield order[first:end]


def classify(classifier: Classifier, texts: list[str]) -> torch.Tensor:
    """Class probabilities (len(texts) x num_labels, fp32, CPU) in input order.

    Texts are tokenized once, truncated to the model's limit, sorted by length and run in batches padded
    only to each batch's longest text.
    """
    encoded = classifier.tokenizer(
        texts,
        truncation=True,
        max_length=classifier.max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = [len(ids) for ids in encoded]
    probs = torch.empty(len(texts), len(classifier.labels), dtype=torch.float32)
    settings = classifier.settings
    autocast = (
        torch.autocast(device_type=classifier.device.type, dtype=classifier.autocast_dtype)
        if classifier.autocast_dtype is not None
        else nullcontext()
    )
    with torch.inference_mode(), autocast:
        for batch in _batches(lengths, batch_size=settings.batch_size, max_batch_tokens=settings.max_batch_tokens):
            width = max(lengths[i] for i in batch)
            input_ids = torch.full((len(batch), width), classifier.pad_token_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                ids = encoded[index]
                input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                attention_mask[row, : len(ids)] = 1
            logits = classifier.model(
                input_ids=input_ids.to(classifier.device), attention_mask=attention_mask.to(classifier.device)
            ).logits
            probs[batch] = logits.float().softmax(dim=-1).cpu()
    return probs


def predict_fn(data: Any, model: Classifier) -> list[dict[str, Any]]:
    """Validate the decoded request and classify its texts.

    Args:
        data: the JSON value returned by `input_fn`.
        model: the classifier returned by `model_fn`.

    Returns:
        One entry per input text, in input order: {"label", "score"} plus "scores" when asked for more.

    Raises:
        ClientError: the request is malformed (see `parse_request`).
    """
    request = parse_request(data, max_texts=model.settings.max_texts, num_labels=len(model.labels))
    started = time.perf_counter()
    probs = classify(model, request.texts)
    logger.info("classified %d text(s) in %.1f ms", len(request.texts), (time.perf_counter() - started) * 1000)
    values, indices = probs.topk(request.top_k, dim=-1)
    results = []
    for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True):
        ranked = [{"label": model.labels[i], "score": v} for v, i in zip(row_values, row_indices, strict=True)]
        entry: dict[str, Any] = dict(ranked[0])
        if request.top_k > 1:
            entry["scores"] = ranked
        results.append(entry)
    return results


def output_fn(prediction: list[dict[str, Any]], accept: str | None) -> str:
    """Serialize the prediction as JSON.

    Raises:
        ClientError: the client accepts no JSON (e.g. `Accept: text/csv`).
    """
    accepted = [_media_type(part)[0] for part in (accept or "").split(",") if part.strip()]
    if accepted and not JSON_ACCEPTS.intersection(accepted):
        raise ClientError(f"Accept {accept!r} cannot be served: this model answers {JSON_CONTENT_TYPE}")
    return json.dumps(prediction, separators=(",", ":"))
