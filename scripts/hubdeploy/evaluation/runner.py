"""Run one side of an evaluation exactly as its endpoint would: build that side's model.tar.gz from its own
checkout (its pin, its model/code), unpack it, load it with the inference toolkit (`local.toolkit.ToolkitModel`:
the container's code path, so base code serves the base model and head code the head model), and send the
evaluation sentences in batches, timing each InvokeEndpoint-shaped call.

Latency is this machine's CPU through the same code, not the endpoint's instance: it compares base with head
measured the same way, one after the other in one process. One batch is sent first and not timed (the first
call pays one-time costs: lazy imports, allocator warm-up).

Each side runs in fp32 (HUBDEPLOY_PRECISION=fp32, set explicitly so the caller's environment cannot change it);
the head is then loaded a second time from the same unpacked artifact with HUBDEPLOY_PRECISION=int8, to measure
how far int8 moves its answers (`SideRun.int8`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.artifacts import build as artifact_build
from hubdeploy.errors import ArtifactError
from hubdeploy.evaluation.metrics import Prediction
from hubdeploy.evaluation.sides import Side
from hubdeploy.local.artifacts import unpack_archive

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

SERVING_CODE = "code/inference.py"
# Loggers that speak once per request (the toolkit's timings, inference.py's "classified N texts"): quiet while a
# side runs, unless --debug; the evaluation logs one line per side instead.
INFERENCE_MAX_TEXTS = 128  # model/code/inference.py's ServingSettings.max_texts when HUBDEPLOY_MAX_TEXTS is unset
PER_REQUEST_LOGGERS = ("sagemaker_huggingface_inference_toolkit", "mms", "inference")


@dataclass(frozen=True)
class Int8Run:
    """The same artifact loaded with HUBDEPLOY_PRECISION=int8: its answers, or why it did not run."""

    predictions: list[Prediction]  # empty when it did not run
    latencies_ms: list[float]
    error: str | None = None  # why the int8 model did not load or answer


@dataclass(frozen=True)
class SideRun:
    """What one side served and measured."""

    side: Side
    resolved_revision: str | None  # the commit the pinned revision resolved to (the artifact's manifest)
    code_sha256: str  # of code/inference.py as packed
    artifact_bytes: int  # size of model.tar.gz
    labels: tuple[str, ...]  # the model's labels, in its config.json's id2label order
    predictions: list[Prediction]  # in fp32
    latencies_ms: list[float]  # wall time of each timed batch
    batch_size: int
    int8: Int8Run | None = None  # the same artifact run in int8: None when not asked for


def batches(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


def model_labels(model_dir: Path) -> tuple[str, ...]:
    """The labels of an unpacked artifact's config.json (`id2label`, by id); the build checked it has them."""
    id2label = json.loads((model_dir / "config.json").read_text())["id2label"]
    return tuple(str(label) for _, label in sorted(id2label.items(), key=lambda item: int(item[0])))


def _predictions(answer: Any, count: int, *, who: str) -> list[Prediction]:
    """Parse inference.py's answer to `return_all_scores`: one entry per text with every label's score."""
    try:
        entries = list(answer)
        parsed = [
            Prediction(
                label=str(e["label"]), scores={str(s["label"]): float(s["score"]) for s in e.get("scores") or [e]}
            )
            for e in entries
        ]
    except (TypeError, KeyError, ValueError) as exc:
        raise ArtifactError(
            f"{who}: the model's answer is not [{{label, score, scores}}, ...] ({type(exc).__name__}: {exc})",
            hint="its code/inference.py must answer return_all_scores as model/code/inference.py does",
        ) from None
    if len(parsed) != count:
        raise ArtifactError(f"{who}: {len(parsed)} answers for {count} texts", hint="check its code/inference.py")
    return parsed


def container_environment(batch_size: int, precision: str = "fp32") -> dict[str, str]:
    """The model's container environment: the serving defaults, as an endpoint without overrides has them, but for
    a batch larger than inference.py's default limit on texts per request (128), which is raised to fit, and the
    precision (HUBDEPLOY_PRECISION; an inference.py older than the setting ignores it and runs fp32)."""
    environment = {"HUBDEPLOY_PRECISION": precision}
    if batch_size > INFERENCE_MAX_TEXTS:
        environment["HUBDEPLOY_MAX_TEXTS"] = str(batch_size)
    return environment


@contextlib.contextmanager
def _quiet_requests() -> Iterator[None]:
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    loggers = [logging.getLogger(name) for name in PER_REQUEST_LOGGERS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


def run_side(
    settings: Settings,
    side: Side,
    *,
    env: str,
    texts: Sequence[str],
    batch_size: int,
    workdir: Path,
    who: str,
    int8: bool = False,
) -> SideRun:
    """Build, load and run `side` on `texts`; `who` names it in messages ("dev base (main)", "dev head"). With
    `int8`, the same artifact is then run in int8 too (a failure to do so is recorded, not raised)."""
    with _quiet_requests():
        return _run_side(
            settings, side, env=env, texts=texts, batch_size=batch_size, workdir=workdir, who=who, int8=int8
        )


def _serve(
    model_dir: Path, texts: Sequence[str], *, batch_size: int, precision: str, who: str
) -> tuple[list[Prediction], list[float]]:
    """Load the unpacked artifact at `model_dir` with `precision` and send `texts`: (predictions, batch latencies)."""
    from hubdeploy.errors import ModelLoadError
    from hubdeploy.local.toolkit import ToolkitModel

    try:
        model = ToolkitModel(model_dir, environment=container_environment(batch_size, precision), name=who)
    except ModelLoadError as exc:
        raise ArtifactError(f"{who}: the model did not load: {exc}", hint="fix its code/inference.py") from exc

    def invoke(batch: list[str]) -> list[Prediction]:
        body = json.dumps({"inputs": batch, "parameters": {"return_all_scores": True}}).encode()
        reply = model.invoke(body, content_type="application/json", accept="application/json")
        if reply.status != 200:
            raise ArtifactError(f"{who}: the model answered {reply.status}: {reply.message[:300]}", hint="see above")
        return _predictions(reply.json(), len(batch), who=who)

    groups = batches(texts, batch_size)
    predictions: list[Prediction] = []
    latencies: list[float] = []
    with model:  # its container environment (HUBDEPLOY_PRECISION, …) is this process's until it is closed
        invoke(groups[0])  # warm-up, not timed
        for group in groups:
            tick = time.perf_counter()
            predictions += invoke(group)
            latencies.append((time.perf_counter() - tick) * 1000)
    return predictions, latencies


def _run_int8(model_dir: Path, texts: Sequence[str], *, batch_size: int, who: str) -> Int8Run:
    started = time.monotonic()
    try:
        predictions, latencies = _serve(model_dir, texts, batch_size=batch_size, precision="int8", who=f"{who} int8")
    except ArtifactError as exc:  # the gate (an int8 env) or the report (an fp32 one) says it, with this reason
        log.warning("evaluate: %s did not run in int8: %s", who, exc.message)
        return Int8Run(predictions=[], latencies_ms=[], error=exc.message)
    log.info("evaluate: %s int8 ran %d sentences in %.1fs", who, len(texts), time.monotonic() - started)
    return Int8Run(predictions=predictions, latencies_ms=latencies)


def _run_side(
    settings: Settings,
    side: Side,
    *,
    env: str,
    texts: Sequence[str],
    batch_size: int,
    workdir: Path,
    who: str,
    int8: bool,
) -> SideRun:
    started = time.monotonic()
    side_settings = dataclasses.replace(settings, repo_root=side.root)
    built = artifact_build.build(side_settings, env=env, out_dir=workdir / "build")
    model_dir = workdir / "model"
    unpack_archive(built.model.path, model_dir, label=f"{who} model.tar.gz")
    shutil.rmtree(workdir / "build")  # one copy of the weights on disk per side is enough
    code_sha256 = hashlib.sha256((model_dir / SERVING_CODE).read_bytes()).hexdigest()
    log.info("evaluate: %s built in %.1fs (%d bytes)", who, time.monotonic() - started, built.model.size)
    predictions, latencies = _serve(model_dir, texts, batch_size=batch_size, precision="fp32", who=who)
    log.info("evaluate: %s ran %d sentences in %.1fs", who, len(texts), time.monotonic() - started)
    return SideRun(
        side=side,
        resolved_revision=built.manifest.hub_revision,
        code_sha256=code_sha256,
        artifact_bytes=built.model.size,
        labels=model_labels(model_dir),
        predictions=predictions,
        latencies_ms=latencies,
        batch_size=batch_size,
        int8=_run_int8(model_dir, texts, batch_size=batch_size, who=who) if int8 else None,
    )
