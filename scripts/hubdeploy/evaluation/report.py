"""The evaluation's two outputs: `evaluation.json` (the document, in the env's plan folder) and the "Evaluation"
section of the env's sticky PR comment, rendered from that document alone, so `hubdeploy comment` (no torch)
shows what `hubdeploy evaluate` measured.

evaluation.json, schema 1:

    {"schema": 1, "env": "dev", "verdict": "pass" | "fail" | "skipped" | "missing" (the job did not report),
     "reason": str | null,
     "base": SIDE | null (the env was not pinned at base), "head": SIDE | null (skipped: not pinned),
     "sentences": {"path", "count", "sha256"}, "labels": [...],
     "flips": {"count", "shown": [{"text", "base_label", "base_score", "head_label", "head_score"}, ...]} | null,
     "score_change": {"mean", "max"} | null, "gates_file": "model-gates.toml",
     "gates": [{"name", "limit", "value", "passed" (null: not applicable), "note"}, ...],
     "failures": [message, ...], "latency_note": str, "seconds": float,
     "int8": INT8 | null (skipped, or a document from before int8 was measured)}
    SIDE = {"ref", "commit", "model_id", "revision", "resolved_revision", "code_sha256", "artifact_bytes",
            "accuracy", "macro_f1", "recall": {label: x | null},
            "latency_ms": {"p50", "p95", "batch_size", "batches"}}
    (a skipped evaluation's sides carry ref, commit, model_id and revision; the measured values are null)
    INT8 = {"precision": "fp32" | "int8" (the env's, head side), "setting": "terraform/envs/<env>/terraform.tfvars",
            "gated": bool (precision is int8: min_int8_agreement applies), "min_agreement": the limit,
            "agreement": x | null (null: int8 did not run, "error" says why), "same", "total",
            "score_difference": {"mean", "max"} | null, "latency_ms": {"p50", "p95"} | null,
            "differ": {"count", "shown": [{"text", "fp32_label", "fp32_score", "int8_label", "int8_score"}, ...]}
                      | null, "error": str | null}
    (the head model's fp32 answers against the same artifact's with HUBDEPLOY_PRECISION=int8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hubdeploy.evaluation import metrics
from hubdeploy.gates import GATES_FILE, SLACK, GateResult, Int8Agreement
from hubdeploy.log import human_bytes

if TYPE_CHECKING:
    from hubdeploy.evaluation.runner import SideRun
    from hubdeploy.evaluation.sides import Side

SCHEMA = 1
EVALUATION_FILE = "evaluation.json"
LATENCY_NOTE = (
    "wall time per batch through the artifact's code/inference.py on the CPU of the machine that ran the "
    "evaluation (one untimed warm-up batch first), not the endpoint's instance"
)
# The section never crowds out the plan in the comment (65,536 characters in all): long flips are cut, and
# flips beyond what fits are counted, not shown.
SECTION_LIMIT = 12_000
FLIP_TEXT_LIMIT = 200
# The verdicts of evaluation.json; MISSING is written by `hubdeploy comment` when the evaluate job did not report.
PASS, FAIL, SKIPPED, MISSING = "pass", "fail", "skipped", "missing"
VERDICT_ICONS = {PASS: "✅", FAIL: "❌", SKIPPED: "⏭️", MISSING: "❌"}
MISSING_REASON = "the evaluate job did not report (see its log): nothing unevaluated counts as passed"


def side_json(side: Side | None, run: SideRun | None, gold: Sequence[str]) -> dict[str, Any] | None:
    """One side's entry: None for a side with no pin; measured values null when it did not run."""
    if side is None or side.pin is None:
        return None
    entry: dict[str, Any] = {
        "ref": side.ref,
        "commit": side.commit,
        "model_id": side.pin.hub_model_id,
        "revision": side.pin.hub_revision,
        "resolved_revision": None,
        "code_sha256": None,
        "artifact_bytes": None,
        "accuracy": None,
        "macro_f1": None,
        "recall": None,
        "latency_ms": None,
    }
    if run is not None:
        entry.update(
            resolved_revision=run.resolved_revision,
            code_sha256=run.code_sha256,
            artifact_bytes=run.artifact_bytes,
            accuracy=round(metrics.accuracy(gold, run.predictions), 4),
            macro_f1=round(metrics.macro_f1(gold, run.predictions), 4),
            recall={
                k: None if v is None else round(v, 4)
                for k, v in metrics.recall(gold, run.predictions, run.labels).items()
            },
            latency_ms={
                "p50": round(metrics.percentile(run.latencies_ms, 50), 2),
                "p95": round(metrics.percentile(run.latencies_ms, 95), 2),
                "batch_size": run.batch_size,
                "batches": len(run.latencies_ms),
            },
        )
    return entry


def _int8_differ_json(flip: metrics.Flip) -> dict[str, str | float]:
    return {
        "text": flip.text,
        "fp32_label": flip.base.label,
        "fp32_score": round(flip.base.score, 4),
        "int8_label": flip.head.label,
        "int8_score": round(flip.head.score, 4),
    }


def int8_json(
    measured: Int8Agreement,
    *,
    differ: Sequence[metrics.Flip] | None,
    score_difference: tuple[float, float] | None,
    latencies_ms: Sequence[float],
    precision: str,
    setting: str,
    limit: float,
    show: int,
) -> dict[str, Any]:
    """The document's "int8" entry (see the module docstring): `differ` has fp32 as base and int8 as head."""
    return {
        "precision": precision,
        "setting": setting,
        "gated": precision == "int8",
        "min_agreement": limit,
        "agreement": None if measured.agreement is None else round(measured.agreement, 4),
        "same": measured.same,
        "total": measured.total,
        "score_difference": (
            None
            if score_difference is None
            else {"mean": round(score_difference[0], 4), "max": round(score_difference[1], 4)}
        ),
        "latency_ms": (
            {
                "p50": round(metrics.percentile(latencies_ms, 50), 2),
                "p95": round(metrics.percentile(latencies_ms, 95), 2),
            }
            if latencies_ms
            else None
        ),
        "differ": None
        if differ is None
        else {"count": len(differ), "shown": [_int8_differ_json(f) for f in differ[:show]]},
        "error": measured.error,
    }


def document(
    *,
    env: str,
    verdict: str,
    reason: str | None,
    base: dict[str, Any] | None,
    head: dict[str, Any] | None,
    sentences: dict[str, Any],
    labels: Sequence[str] = (),
    flips: Sequence[metrics.Flip] | None = None,
    show_flips: int = 0,
    score_change: tuple[float, float] | None = None,
    gates: Sequence[GateResult] = (),
    seconds: float = 0.0,
    int8: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation.json document (see the module docstring); `int8` from `int8_json`."""
    return {
        "schema": SCHEMA,
        "env": env,
        "verdict": verdict,
        "reason": reason,
        "base": base,
        "head": head,
        "sentences": sentences,
        "labels": list(labels),
        "flips": None if flips is None else {"count": len(flips), "shown": [f.to_json() for f in flips[:show_flips]]},
        "score_change": (
            None if score_change is None else {"mean": round(score_change[0], 4), "max": round(score_change[1], 4)}
        ),
        "gates_file": GATES_FILE,
        "gates": [g.to_json() for g in gates],
        "failures": [g.message for g in gates if g.passed is False],
        "latency_note": LATENCY_NOTE,
        "seconds": round(seconds, 1),
        "int8": int8,
    }


# --- the comment section -----------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Plain text safe in a Markdown table cell and inside <details> (no HTML tag, no pipe, one line)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _ratio(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _change(base: object, head: object) -> str:
    if not isinstance(base, int | float) or not isinstance(head, int | float) or round(head - base, 3) == 0:
        return ""
    return f" ({head - base:+.3f})"


def _model(side: dict[str, Any]) -> str:
    revision = str(side.get("revision") or "-")
    resolved = side.get("resolved_revision")
    shown = revision if not resolved or resolved == revision else f"{revision} = {str(resolved)[:12]}"
    return f"`{_text(side.get('model_id'))}@{_text(shown[:40])}`"


def _code(side: dict[str, Any]) -> str:
    digest = side.get("code_sha256")
    return f"`{str(digest)[:12]}`" if digest else "-"


def _latency(side: dict[str, Any]) -> str:
    latency = side.get("latency_ms") or {}
    if "p50" not in latency:
        return "-"
    return f"{latency['p50']:.1f} / {latency['p95']:.1f} ms"


def _size(side: dict[str, Any]) -> str:
    size = side.get("artifact_bytes")
    return human_bytes(size) if isinstance(size, int) else "-"


def _table(doc: dict[str, Any]) -> list[str]:
    base: dict[str, Any] = doc.get("base") or {}
    head: dict[str, Any] = doc.get("head") or {}
    batch = (head.get("latency_ms") or {}).get("batch_size", "?")
    rows = [
        ("Model", _model(base) if base else "_not pinned_", _model(head)),
        ("Serving code (sha256)", _code(base), _code(head)),
        (
            "Accuracy",
            _ratio(base.get("accuracy")),
            _ratio(head.get("accuracy")) + _change(base.get("accuracy"), head.get("accuracy")),
        ),
        (
            "Macro-F1",
            _ratio(base.get("macro_f1")),
            _ratio(head.get("macro_f1")) + _change(base.get("macro_f1"), head.get("macro_f1")),
        ),
    ]
    for label in doc.get("labels") or []:
        old, new = (base.get("recall") or {}).get(label), (head.get("recall") or {}).get(label)
        rows.append((f"Recall {_text(label)}", _ratio(old), _ratio(new) + _change(old, new)))
    rows.append((f"Latency p50 / p95 (batch of {batch})", _latency(base), _latency(head)))
    rows.append(("Artifact size", _size(base), _size(head)))
    return ["| | Base | Head |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]


def _flip_rows(shown: list[dict[str, Any]]) -> list[str]:
    def cut(text: str) -> str:
        return text if len(text) <= FLIP_TEXT_LIMIT else text[: FLIP_TEXT_LIMIT - 1] + "…"

    return [
        f"| {_text(cut(str(f.get('text', ''))))} | {_text(f.get('base_label'))} {_ratio(f.get('base_score'))} "
        f"| {_text(f.get('head_label'))} {_ratio(f.get('head_score'))} |"
        for f in shown
    ]


def _flips(doc: dict[str, Any], *, room: int) -> list[str]:
    flips = doc.get("flips")
    if not isinstance(flips, dict):
        return []
    count, shown = int(flips.get("count") or 0), list(flips.get("shown") or [])
    total = (doc.get("sentences") or {}).get("count", "?")
    change = doc.get("score_change") or {}
    line = f"**Label flips:** {count} of {total} sentences"
    if change:
        line += f" · score change mean {_ratio(change.get('mean'))}, max {_ratio(change.get('max'))}"
    if not count or not shown:
        return [line]
    rows = _flip_rows(shown)
    while rows and sum(len(r) + 1 for r in rows) > room:
        rows.pop()  # what does not fit stays in evaluation.json
    more = f" ({count - len(rows)} more in evaluation.json)" if count > len(rows) else ""
    return [
        line,
        f"<details><summary>{'First ' if count > len(rows) else ''}{len(rows)} of {count} flips{more}</summary>\n\n"
        "| Sentence | Base | Head |\n|---|---|---|\n" + "\n".join(rows) + "\n\n</details>",
    ]


def _int8(doc: dict[str, Any]) -> list[str]:
    """One paragraph: how far int8 moves the head's answers, and whether that gates this env or only informs."""
    int8 = doc.get("int8")
    if not isinstance(int8, dict):
        return []
    env, setting = _text(doc.get("env")), _text(int8.get("setting"))
    where = f'`precision = "{_text(int8.get("precision"))}"` in `{setting}`'
    agreement, limit = int8.get("agreement"), int8.get("min_agreement")
    shown_limit = f"{limit:g}" if isinstance(limit, int | float) else "-"
    if not isinstance(agreement, int | float):
        measured = f"**int8:** did not run ({_text(int8.get('error') or 'not measured')})"
    else:
        same, total = int8.get("same"), int8.get("total")
        measured = (
            f"**int8 vs fp32** (head, same artifact): same label on {same} of {total} sentences ({agreement:.3f})"
        )
        difference = int8.get("score_difference") or {}
        if difference:
            measured += (
                f" · score difference mean {_ratio(difference.get('mean'))}, max {_ratio(difference.get('max'))}"
            )
        latency = int8.get("latency_ms") or {}
        fp32 = ((doc.get("head") or {}).get("latency_ms") or {}).get("p50")
        if "p50" in latency and isinstance(fp32, int | float):
            measured += f" · latency p50 {latency['p50']:.1f} ms (fp32 {fp32:.1f} ms)"
    if int8.get("gated"):
        return [f"{measured}. {env} runs int8 ({where}): gated by `min_int8_agreement` {shown_limit} (Gates)."]
    would = (
        ""
        if not isinstance(agreement, int | float) or not isinstance(limit, int | float)
        else f"; at `min_int8_agreement` {shown_limit} int8 would {'pass' if agreement >= limit - SLACK else 'fail'}"
    )
    return [f"{measured}. {env} runs fp32 ({where}): informative, not gated{would}."]


def _gates(doc: dict[str, Any]) -> list[str]:
    gates = doc.get("gates") or []
    where = f"{doc.get('gates_file', GATES_FILE)} [{_text(doc.get('env'))}]"
    if not gates:
        return [f"**Gates:** none set in {where}"]
    icon = {True: "✅", False: "❌", None: "⚪"}  # None: the gate does not apply
    lines = [f"**Gates** ({where}):"]
    for gate in gates:
        lines.append(f"- {icon.get(gate.get('passed'), '⚪')} `{_text(gate.get('name'))}`: {_text(gate.get('note'))}")
    return ["\n".join(lines)]


def missing_document(env: str) -> dict[str, Any]:
    """What a plan records when the evaluate job gave it nothing: shown in the comment, a failed status."""
    return {"schema": SCHEMA, "env": env, "verdict": MISSING, "reason": MISSING_REASON}


def section_md(doc: dict[str, Any], *, limit: int = SECTION_LIMIT) -> str:
    """The "Evaluation" section of the env's comment, at most `limit` characters."""
    if doc.get("schema") != SCHEMA:
        return f"#### Evaluation\n\n_evaluation.json has schema {doc.get('schema')!r}; this hubdeploy reads {SCHEMA}._"
    verdict = str(doc.get("verdict"))
    title = f"#### Evaluation {VERDICT_ICONS.get(verdict, '')} {verdict}".rstrip()
    if verdict in (SKIPPED, MISSING):
        return f"{title}: {_text(doc.get('reason') or 'nothing to evaluate')}"
    base = doc.get("base")
    sentences = doc.get("sentences") or {}
    against = (
        f"base `{_text(base.get('ref'))}` ({str(base.get('commit'))[:12]})"
        if isinstance(base, dict)
        else "nothing deployed at base: head alone, the drop and flip gates do not apply"
    )
    intro = (
        f"{sentences.get('count', '?')} labelled sentences from `{_text(sentences.get('path'))}` "
        f"(sha256 `{str(sentences.get('sha256'))[:12]}`), {against} vs head."
    )
    failures = [f"> ❌ **{_text(message)}**" for message in doc.get("failures") or []]
    note = f"<sub>Latency: {_text(doc.get('latency_note') or LATENCY_NOTE)}.</sub>"
    before = [title, intro, *failures, "\n".join(_table(doc))]
    after = [*_int8(doc), *_gates(doc), note]  # the flips go between the two
    room = limit - sum(len(part) + 2 for part in before + after) - 400  # 400: the flips' line, summary, table head
    parts = [*before, *_flips(doc, room=room), *after]
    return "\n\n".join(parts)
