"""evaluation.json rendered as the "Evaluation" section of the env's sticky comment (and job summary): a table base
vs head, the flips collapsed, the gates, or the skip reason; nothing for a plan folder without evaluation.json;
never more than its share of GitHub's comment limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.cli import main
from hubdeploy.evaluation import report
from hubdeploy.gitops.comment import GITHUB_COMMENT_LIMIT, github_length, render_comment, render_job_summary
from hubdeploy.gitops.planfolder import read_plan_folder
from tests.gitops.test_commands import fake_folder

pytestmark = pytest.mark.unit


DROP = "dev: accuracy dropped by 0.1048 (0.6238 -> 0.5190), more than max_accuracy_drop 0.02 (model-gates.toml [dev])"
MODEL_ROW = (
    "| Model | `yiyanghkust/finbert-tone@main = cccccccccccc` | `yiyanghkust/finbert-tone@standin-v2 = cccccccccccc` |"
)


def side(ref: str, revision: str, accuracy: float, recall: dict[str, float], code: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "commit": "a" * 40 if ref == "main" else "b" * 40,
        "model_id": "yiyanghkust/finbert-tone",
        "revision": revision,
        "resolved_revision": "c" * 40,
        "code_sha256": code * 64,
        "artifact_bytes": 3_935_254,
        "accuracy": accuracy,
        "macro_f1": accuracy - 0.01,
        "recall": recall,
        "latency_ms": {"p50": 2.98, "p95": 3.47, "batch_size": 16, "batches": 14},
    }


def doc(*, flips: int = 2, shown: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    flip = {
        "text": "Profit fell.",
        "base_label": "Negative",
        "base_score": 0.83,
        "head_label": "Positive",
        "head_score": 0.87,
    }
    base = {
        "schema": 1,
        "env": "dev",
        "verdict": "fail",
        "reason": None,
        "base": side("main", "main", 0.6238, {"Neutral": 0.5286, "Positive": 0.5571, "Negative": 0.7857}, "8"),
        "head": side(
            "working tree", "standin-v2", 0.519, {"Neutral": 0.3714, "Positive": 0.6857, "Negative": 0.5}, "9"
        ),
        "sentences": {"path": "evaluation/sentences.jsonl", "count": 210, "sha256": "6" * 64},
        "labels": ["Neutral", "Positive", "Negative"],
        "flips": {"count": flips, "shown": [flip] * min(flips, 10) if shown is None else shown},
        "score_change": {"mean": 0.2933, "max": 0.9801},
        "gates_file": "model-gates.toml",
        "gates": [
            {
                "name": "min_accuracy",
                "limit": 0.5,
                "value": 0.519,
                "passed": True,
                "note": "accuracy 0.5190 is at least min_accuracy 0.5",
            },
            {
                "name": "max_accuracy_drop",
                "limit": 0.02,
                "value": 0.1048,
                "passed": False,
                "note": DROP,
            },
        ],
        "failures": [DROP],
        "latency_note": report.LATENCY_NOTE,
        "seconds": 3.7,
    }
    return {**base, **overrides}


def folder_with(tmp_path: Path, evaluation: dict[str, Any] | None, *, text: str = "plan text\n") -> Path:
    folder = fake_folder(tmp_path / "plan" / "dev", text=text)
    if evaluation is not None:
        (folder / report.EVALUATION_FILE).write_text(json.dumps(evaluation))
    return folder


def test_the_comment_shows_base_against_head_the_flips_collapsed_and_the_failed_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = folder_with(tmp_path, doc())
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "#### Evaluation ❌ fail" in out
    assert "> ❌ **dev: accuracy dropped by 0.1048 (0.6238 -> 0.5190), more than max_accuracy_drop 0.02" in out
    assert MODEL_ROW in out
    assert "| Accuracy | 0.624 | 0.519 (-0.105) |" in out
    assert "| Recall Positive | 0.557 | 0.686 (+0.129) |" in out
    assert "| Latency p50 / p95 (batch of 16) | 3.0 / 3.5 ms | 3.0 / 3.5 ms |" in out
    assert "| Artifact size | 3.8 MiB | 3.8 MiB |" in out
    assert "**Label flips:** 2 of 210 sentences · score change mean 0.293, max 0.980" in out
    assert "<details><summary>2 of 2 flips</summary>" in out
    assert "| Profit fell. | Negative 0.830 | Positive 0.870 |" in out
    assert "- ✅ `min_accuracy`: accuracy 0.5190 is at least min_accuracy 0.5" in out
    assert "- ❌ `max_accuracy_drop`: dev: accuracy dropped by 0.1048" in out
    # the evaluation comes before the plan, and the job summary carries it too
    assert out.index("#### Evaluation") < out.index("<details><summary>Full plan")
    summary = render_job_summary(read_plan_folder(folder).comment_input(workflow="pr"))
    assert "#### Evaluation ❌ fail" in summary


def test_no_evaluation_json_no_section_and_a_skip_says_why(tmp_path: Path) -> None:
    plain = render_comment(read_plan_folder(folder_with(tmp_path / "a", None)).comment_input(workflow="pr"))
    assert "Evaluation" not in plain
    skipped = doc(verdict="skipped", reason="no model or serving code change for dev", flips=0, gates=[], failures=[])
    body = render_comment(read_plan_folder(folder_with(tmp_path / "b", skipped)).comment_input(workflow="pr"))
    assert "#### Evaluation ⏭️ skipped: no model or serving code change for dev" in body
    assert "| Accuracy |" not in body


def test_a_first_pin_is_shown_alone_with_the_gates_that_do_not_apply(tmp_path: Path) -> None:
    gates = [
        {
            "name": "min_accuracy",
            "limit": 0.7,
            "value": 0.75,
            "passed": True,
            "note": "accuracy 0.7500 is at least min_accuracy 0.7",
        },
        {
            "name": "max_flips",
            "limit": 21,
            "value": None,
            "passed": None,
            "note": "not applicable: nothing deployed at base",
        },
    ]
    first = doc(verdict="pass", base=None, flips=0, gates=gates, failures=[], score_change=None, env="staging")
    first["flips"] = None
    section = report.section_md(first)
    assert "nothing deployed at base: head alone, the drop and flip gates do not apply" in section
    assert "| Model | _not pinned_ | `yiyanghkust/finbert-tone@standin-v2 = cccccccccccc` |" in section
    assert "| Accuracy | - | 0.519 |" in section
    assert "- ⚪ `max_flips`: not applicable: nothing deployed at base" in section
    assert "Label flips" not in section


def test_many_long_flips_are_cut_and_escaped_and_the_comment_stays_under_githubs_limit(tmp_path: Path) -> None:
    nasty = {
        "text": "</details><script>x</script> | `code` " + "word " * 400,
        "base_label": "Negative",
        "base_score": 0.5,
        "head_label": "Positive",
        "head_score": 0.6,
    }
    big = doc(flips=500, shown=[nasty] * 500)
    section = report.section_md(big)
    assert len(section) <= report.SECTION_LIMIT
    assert "</details><script>" not in section and "&lt;/details>&lt;script>" in section
    assert "\\| 'code'" in section  # a pipe cannot end the cell, a backtick cannot open code
    shown = section.count("| Negative 0.500 | Positive 0.600 |")
    assert 0 < shown < 500
    assert f"First {shown} of 500 flips ({500 - shown} more in evaluation.json)" in section
    huge_plan = "".join(f"  # resource line {i}\n" for i in range(20_000))
    body = render_comment(read_plan_folder(folder_with(tmp_path, big, text=huge_plan)).comment_input(workflow="pr"))
    assert github_length(body) < GITHUB_COMMENT_LIMIT
    assert section in body


def test_an_evaluation_json_of_another_schema_or_unreadable_is_not_misread(tmp_path: Path) -> None:
    assert "evaluation.json has schema 2; this hubdeploy reads 1" in report.section_md({"schema": 2})
    folder = folder_with(tmp_path, None)
    (folder / report.EVALUATION_FILE).write_text("{not json")
    assert read_plan_folder(folder).evaluation is None


def test_the_evaluate_jobs_output_given_to_comment_is_stored_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = folder_with(tmp_path, None)  # the plan job's folder: the evaluation comes from the evaluate job
    given = json.dumps(doc(), separators=(",", ":"))
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder), "--evaluation-json", given, "--dry-run"]) == 0
    assert "#### Evaluation ❌ fail" in capsys.readouterr().out
    assert json.loads((folder / report.EVALUATION_FILE).read_text()) == doc()


INT8_FAILED = (
    "dev: int8 labels only 205 of 210 sentences (0.9762) as fp32 does, below min_int8_agreement 0.99 (the default): "
    'it must stay fp32: set precision = "fp32" in terraform/envs/dev/terraform.tfvars, or lower min_int8_agreement '
    "in model-gates.toml [dev] in a reviewed PR"
)


def int8_entry(precision: str, same: int, **overrides: Any) -> dict[str, Any]:
    entry = {
        "precision": precision,
        "setting": "terraform/envs/dev/terraform.tfvars",
        "gated": precision == "int8",
        "min_agreement": 0.99,
        "agreement": round(same / 210, 4),
        "same": same,
        "total": 210,
        "score_difference": {"mean": 0.0041, "max": 0.0613},
        "latency_ms": {"p50": 2.14, "p95": 2.6},
        "differ": {"count": 210 - same, "shown": []},
        "error": None,
    }
    return {**entry, **overrides}


def test_an_fp32_env_shows_the_int8_agreement_as_information_not_as_a_gate() -> None:
    section = report.section_md(doc(int8=int8_entry("fp32", 209)))
    assert (
        "**int8 vs fp32** (head, same artifact): same label on 209 of 210 sentences (0.995) · score difference "
        'mean 0.004, max 0.061 · latency p50 2.1 ms (fp32 3.0 ms). dev runs fp32 (`precision = "fp32"` in '
        "`terraform/envs/dev/terraform.tfvars`): informative, not gated; at `min_int8_agreement` 0.99 int8 would pass."
    ) in section
    assert "`min_int8_agreement`:" not in section, "no gate line: nothing is gated"
    # an fp32 env that could not go int8 is told so too
    assert "int8 would fail." in report.section_md(doc(int8=int8_entry("fp32", 150)))
    # a document written before int8 was measured renders without the line
    assert "int8" not in report.section_md(doc())


def test_an_int8_env_below_the_agreement_fails_naming_the_numbers_and_the_setting() -> None:
    from hubdeploy.gitops.review import evaluation_status

    gate = {"name": "min_int8_agreement", "limit": 0.99, "value": 0.9762, "passed": False, "note": INT8_FAILED}
    failed = doc(gates=[gate], failures=[INT8_FAILED], int8=int8_entry("int8", 205))
    section = report.section_md(failed)
    assert f"> ❌ **{INT8_FAILED}**" in section
    assert f"- ❌ `min_int8_agreement`: {INT8_FAILED}" in section
    assert (
        'dev runs int8 (`precision = "int8"` in `terraform/envs/dev/terraform.tfvars`): gated by '
        "`min_int8_agreement` 0.99 (Gates)."
    ) in section
    # the order a reader meets: the table, the flips, int8, the gates
    assert section.index("| Accuracy |") < section.index("**Label flips:**") < section.index("**int8 vs fp32**")
    assert section.index("**int8 vs fp32**") < section.index("**Gates**")
    # the commit status says which gate, with the numbers
    assert evaluation_status(failed) == ("failure", "failed: min_int8_agreement 0.976 vs 0.990")


def test_an_int8_run_that_did_not_happen_says_why() -> None:
    broken = int8_entry("fp32", 0, agreement=None, score_difference=None, latency_ms=None, differ=None)
    broken["error"] = "dev head int8: the model did not load: no engine"
    section = report.section_md(doc(int8=broken))
    assert "**int8:** did not run (dev head int8: the model did not load: no engine). dev runs fp32" in section
    assert "would pass" not in section and "would fail" not in section
