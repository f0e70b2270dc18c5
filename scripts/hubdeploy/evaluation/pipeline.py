"""One env's evaluation, end to end: which sides (`sides`), skip or run both (`runner`), the numbers (`metrics`),
the gates of model-gates.toml (`hubdeploy.gates`), and evaluation.json (`report`), written atomically.

Used by `hubdeploy evaluate` (the PR workflow's evaluate job) and `hubdeploy preview` (with the stand-in
installed for each side's pin through `prepare`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy import gates as model_gates
from hubdeploy.artifacts.training import read_sentences
from hubdeploy.envs import ModelPin
from hubdeploy.errors import EvaluationError, UsageError
from hubdeploy.evaluation import metrics, report, sides
from hubdeploy.fsutil import atomic_write_json, sha256_file
from hubdeploy.infra.envvalues import VALUES_FILE

if TYPE_CHECKING:
    from hubdeploy.evaluation.runner import SideRun
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

SENTENCES_FILE = Path("evaluation") / "sentences.jsonl"
DEFAULT_BATCH_SIZE = 16
DEFAULT_SHOW_FLIPS = 10


def _shown_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def evaluate_env(
    settings: Settings,
    *,
    env: str,
    base_ref: str,
    out: Path,
    head_commit: str,
    sentences_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_flips: int = DEFAULT_SHOW_FLIPS,
    head_root: Path | None = None,
    git_root: Path | None = None,
    prepare: Callable[[ModelPin], None] | None = None,
) -> dict[str, Any]:
    """Evaluate `env`'s base against its head; write `out`/evaluation.json and return it.

    `head_root` is the head checkout (default: settings.repo_root, the working tree), `git_root` the clone the
    base ref is read from (default: the same). `prepare` is called with each side's pin before it is built.
    A failed gate is in the document (verdict "fail", `failures`): `gate_failure` turns it into the error.

    Raises:
        UsageError: a bad evaluation set, base ref or model-gates.toml.
        ArtifactError: a side that cannot be built, loaded or run.
    """
    started = time.monotonic()
    head_root = head_root or settings.repo_root
    git_root = git_root or settings.repo_root
    path = sentences_path or head_root / SENTENCES_FILE
    if not path.is_file():
        raise UsageError(
            f"no evaluation set at {path}",
            hint=f"restore {SENTENCES_FILE} with git, or pass --sentences PATH (format: evaluation/README.md)",
        )
    sentences = read_sentences(path, labels=None)  # the labels are checked against the head model's below
    about = {"path": _shown_path(path, head_root), "count": len(sentences), "sha256": sha256_file(path)}
    env_gates = model_gates.load(head_root).for_env(env)  # the PR's gates: a change to them is reviewed with it
    with tempfile.TemporaryDirectory(prefix="hubdeploy-evaluate-") as tmp:
        workdir = Path(tmp)
        comparison = sides.compare(
            settings,
            env=env,
            base_ref=base_ref,
            head_root=head_root,
            head_commit=head_commit,
            git_root=git_root,
            workdir=workdir,
        )
        if comparison.skip_reason is not None:
            log.info("evaluate %s: skipped (%s)", env, comparison.skip_reason)
            doc = report.document(
                env=env,
                verdict=report.SKIPPED,
                reason=comparison.skip_reason,
                base=report.side_json(comparison.base, None, []),
                head=report.side_json(comparison.head, None, []),
                sentences=about,
                seconds=time.monotonic() - started,
            )
            return _write(out, doc)
        doc = _run(
            settings,
            comparison,
            texts=[s.text for s in sentences],
            gold=[s.label for s in sentences],
            about=about,
            env_gates=env_gates,
            batch_size=batch_size,
            show_flips=show_flips,
            workdir=workdir,
            prepare=prepare,
        )
    doc["seconds"] = round(time.monotonic() - started, 1)
    return _write(out, doc)


def _run(
    settings: Settings,
    comparison: sides.Comparison,
    *,
    texts: list[str],
    gold: list[str],
    about: dict[str, Any],
    env_gates: model_gates.EnvGates,
    batch_size: int,
    show_flips: int,
    workdir: Path,
    prepare: Callable[[ModelPin], None] | None,
) -> dict[str, Any]:
    from hubdeploy.evaluation.runner import run_side

    env = comparison.env

    def run(side: sides.Side, name: str) -> SideRun:
        if prepare is not None and side.pin is not None:
            prepare(side.pin)
        who = f"{env} {name}" + (f" ({side.ref})" if name == "base" else "")
        return run_side(
            settings,
            side,
            env=env,
            texts=texts,
            batch_size=batch_size,
            workdir=workdir / name,
            who=who,
            int8=name == "head",  # the head in int8 too, whatever the env's precision: int8 env or not, it is shown
        )

    head = run(comparison.head, "head")  # first: a set labelled for another model stops before base is built
    unknown = sorted(set(gold) - set(head.labels))
    if unknown:
        raise UsageError(
            f"evaluation set {about['path']}: label(s) {', '.join(unknown)} are not labels of the head model "
            f"({', '.join(head.labels)})",
            hint="label the sentences with the model's id2label names (evaluation/README.md)",
        )
    base = run(comparison.base, "base") if comparison.base.pin is not None else None
    head_accuracy = metrics.accuracy(gold, head.predictions)
    flips = metrics.flips(texts, base.predictions, head.predictions) if base else None
    results = model_gates.check_evaluation(
        env_gates,
        head_accuracy=head_accuracy,
        base_accuracy=metrics.accuracy(gold, base.predictions) if base else None,
        flips=None if flips is None else len(flips),
    )
    setting = precision_setting(env)
    agreement, differ, difference = _int8_agreement(texts, head)
    int8_gate = model_gates.check_int8(
        env_gates, precision=comparison.head.precision, measured=agreement, setting=setting
    )
    if int8_gate is not None:
        results.append(int8_gate)
    return report.document(
        env=env,
        verdict=model_gates.verdict(results),
        reason=None,
        base=report.side_json(comparison.base, base, gold),
        head=report.side_json(comparison.head, head, gold),
        sentences=about,
        labels=head.labels,
        flips=flips,
        show_flips=show_flips,
        score_change=metrics.score_changes(base.predictions, head.predictions) if base else None,
        gates=results,
        int8=report.int8_json(
            agreement,
            differ=differ,
            score_difference=difference,
            latencies_ms=head.int8.latencies_ms if head.int8 is not None else [],
            precision=comparison.head.precision,
            setting=setting,
            limit=env_gates.int8_agreement_limit,
            show=show_flips,
        ),
    )


def precision_setting(env: str) -> str:
    """Where the env's precision is set, as the user finds it in the checkout."""
    return f"terraform/envs/{env}/{VALUES_FILE}"


def _int8_agreement(
    texts: list[str], head: SideRun
) -> tuple[model_gates.Int8Agreement, list[metrics.Flip] | None, tuple[float, float] | None]:
    """The head's int8 answers against its fp32 ones: the agreement, the sentences labelled differently (fp32 as
    base, int8 as head) and the score difference (mean, max); the last two None when int8 did not run."""
    total = len(texts)
    if head.int8 is None or head.int8.error is not None:
        error = head.int8.error if head.int8 is not None else "not run"
        return model_gates.Int8Agreement(None, 0, total, error), None, None
    fp32, int8 = head.predictions, head.int8.predictions
    differ = metrics.flips(texts, fp32, int8)
    agreement = model_gates.Int8Agreement(metrics.agreement(fp32, int8), total - len(differ), total)
    return agreement, differ, metrics.score_changes(fp32, int8)


def skip_reasons(settings: Settings, *, envs: list[str], base_ref: str, head_commit: str) -> dict[str, str | None]:
    """Per env, why its evaluation would be skipped, or None when it has a model to evaluate (git only, no torch):
    what a CI job asks before installing torch."""
    reasons: dict[str, str | None] = {}
    for env in envs:
        with tempfile.TemporaryDirectory(prefix="hubdeploy-evaluate-") as tmp:
            comparison = sides.compare(
                settings,
                env=env,
                base_ref=base_ref,
                head_root=settings.repo_root,
                head_commit=head_commit,
                git_root=settings.repo_root,
                workdir=Path(tmp),
            )
        reasons[env] = comparison.skip_reason
    return reasons


def _write(out: Path, doc: dict[str, Any]) -> dict[str, Any]:
    atomic_write_json(out / report.EVALUATION_FILE, doc)
    return doc


def gate_failure(doc: dict[str, Any]) -> EvaluationError | None:
    """The error a failed evaluation fails the PR check with: every failed gate with its numbers."""
    if doc.get("verdict") != report.FAIL:
        return None
    env = doc.get("env")
    return EvaluationError(
        "; ".join(doc.get("failures") or [f"{env}: an evaluation gate failed"]),
        hint=f"see the flips in {report.EVALUATION_FILE} and the PR comment; fix the model, or change "
        f"[{env}] in {model_gates.GATES_FILE} in a reviewed PR",
    )
