"""Plan summary, plan hash and the PR comment, against real `terraform show -json` output from applies
and plans of the real sagemaker-endpoint module against the emulator (see realplans.py)."""

from __future__ import annotations

import json
import re

import pytest

from hubdeploy.errors import TerraformError
from hubdeploy.gitops.comment import (
    GITHUB_COMMENT_LIMIT,
    CommentInput,
    github_length,
    marker,
    recorded,
    recorded_changes,
    render_comment,
)
from hubdeploy.gitops.planhash import change_record, compare, converge, plan_hash
from hubdeploy.gitops.plansummary import UNKNOWN, summarize

from .realplans import REV_A, REV_B, SHA_A, SHA_B, URL_A, URL_B

pytestmark = pytest.mark.terraform

SECRETS = ("s3cr3t-value-never-shown", "n3w-s3cr3t-never-shown")


def comment_for(plan, *, text=None, status="planned", limit=GITHUB_COMMENT_LIMIT):
    data = CommentInput(
        env="dev",
        workflow="pr",
        summary=summarize(plan.json),
        plan_text=plan.text if text is None else text,
        plan_hash=plan_hash(plan.json),
        commit="c" * 40,
        status=status,
        run_url="https://github.com/o/r/actions/runs/1",
    )
    return render_comment(data, limit=limit)


def test_pin_change_counts_replacements_as_replacements(real_plans):
    summary = summarize(real_plans["pin_change"].json)
    # terraform itself says "2 to add, 2 to change, 2 to destroy" for the same plan
    assert "2 to add, 2 to change, 2 to destroy" in real_plans["pin_change"].text
    # changed in place: the endpoint (new config) and the execution role's policy (read the new artifact only)
    assert (summary.add, summary.change, summary.replace, summary.destroy) == (0, 2, 2, 0)
    assert summary.line() == "0 to add, 2 to change, 2 to replace, 0 to destroy"
    assert summary.warnings == []  # model + config replaced: the normal way a model changes


def test_pin_change_model_table_old_to_new(real_plans):
    model = summarize(real_plans["pin_change"].json).model
    assert model["hub_model_id"] == ("yiyanghkust/finbert-tone", "yiyanghkust/finbert-tone")
    assert model["hub_revision"] == (REV_A, REV_B)
    assert model["artifact_sha256"] == (SHA_A, SHA_B)
    assert model["artifact"] == (URL_A, URL_B)  # the keys `hubdeploy publish` writes
    assert model["artifact"][1].endswith(f"-{SHA_B[:12]}/model.tar.gz")
    old_model, new_model = model["model_name"]
    assert old_model == real_plans["pin_change"].applied["model_name"]  # what is deployed now
    # the module names a model by a digest of what makes it another model: known at plan time
    assert re.fullmatch(r"dev-finbert-[0-9a-f]{12}", new_model) and new_model != old_model
    assert new_model == real_plans["pin_change"].json["planned_values"]["outputs"]["model_name"]["value"]
    old_config, new_config = model["endpoint_config_name"]
    assert old_config.startswith("dev-finbert-") and new_config == UNKNOWN  # name_prefix: known after apply
    assert model["instance_type"] == ("ml.m5.large", "ml.m5.large")
    assert model["instance_count"] == ("1", "1")


def test_noop_plan(real_plans):
    plan = real_plans["noop"]
    summary = summarize(plan.json)
    assert plan.exit_code == 0 and not summary.has_changes
    assert summary.line().startswith("No changes")
    assert summary.model["hub_revision"] == (REV_A, REV_A)  # the table still shows what is deployed
    body = comment_for(plan)
    assert "No changes" in body and "✏️" not in body


def test_the_cost_line_reads_real_plans(real_plans, price_table):
    # the test root has no aws_region variable: the region is the aws provider's (us-east-1)
    def line(name: str) -> str:
        cost = summarize(real_plans[name].json).cost
        assert cost is not None, name
        return cost.line()

    assert line("instance_change") == (
        "$84/month (1 x ml.m5.large at $0.115/h x 730 h) → $168/month (1 x ml.m5.xlarge at $0.23/h x 730 h), +$84"
    )
    assert line("pin_change") == "$84/month (1 x ml.m5.large at $0.115/h x 730 h), unchanged"  # a new model, same fleet
    assert line("noop") == "$84/month (1 x ml.m5.large at $0.115/h x 730 h), unchanged"  # a docs-only PR
    assert line("destroy").endswith("→ nothing (destroyed), -$84")
    assert "**Cost:** $84/month" in comment_for(real_plans["noop"])


def test_destroy_plan_counts_and_warns_for_everything_but_model_and_config(real_plans):
    summary = summarize(real_plans["destroy"].json)
    assert (summary.add, summary.change, summary.replace, summary.destroy) == (0, 0, 0, 13)
    warned = sorted(w.address for w in summary.warnings)
    assert warned == [
        "aws_cloudwatch_log_group.this[0]",
        "aws_ssm_parameter.secret",
        "module.endpoint.aws_cloudwatch_log_group.this",
        'module.endpoint.aws_cloudwatch_metric_alarm.rollback["invocation-4xx"]',
        'module.endpoint.aws_cloudwatch_metric_alarm.rollback["invocation-5xx"]',
        'module.endpoint.aws_cloudwatch_metric_alarm.rollback["model-latency"]',
        "module.endpoint.aws_iam_role.this",
        "module.endpoint.aws_iam_role_policy.this",
        "module.endpoint.aws_kms_alias.this",
        "module.endpoint.aws_kms_key.this",
        "module.endpoint.aws_sagemaker_endpoint.this",
    ]
    assert summary.model["endpoint_name"] == ("dev-finbert", "-")
    body = comment_for(real_plans["destroy"])
    assert "> ⚠️ **module.endpoint.aws_sagemaker_endpoint.this will be destroyed**" in body


def test_secrets_never_reach_summary_comment_or_hash_input(real_plans):
    plan = real_plans["secret_and_logs"]
    summary = summarize(plan.json)
    assert summary.change == 1 and summary.destroy == 1  # ssm parameter updated, log group destroyed
    assert [w.address for w in summary.warnings] == ["aws_cloudwatch_log_group.this[0]"]
    raw = json.dumps(plan.json)
    assert all(secret in raw for secret in SECRETS)  # the plan JSON holds them: masking is what protects
    rendered = comment_for(plan) + json.dumps(summary.to_json())
    for other in ("pin_change", "destroy", "noop"):
        rendered += comment_for(real_plans[other]) + json.dumps(summarize(real_plans[other].json).to_json())
    assert not any(secret in rendered for secret in SECRETS)


def test_hash_is_stable_across_replans_and_commits_but_not_across_changes(real_plans):
    hashes = {name: plan_hash(plan.json) for name, plan in real_plans.items()}
    assert hashes["pin_change"] == hashes["pin_change_again"]  # same inputs, other git commit
    assert len({hashes[n] for n in ("pin_change", "instance_change", "noop", "destroy", "secret_and_logs")}) == 5
    compare(env="dev", reviewed=hashes["pin_change"], current=hashes["pin_change_again"])
    with pytest.raises(TerraformError, match="differs from the one reviewed"):
        compare(env="dev", reviewed=hashes["pin_change"], current=hashes["instance_change"])


def test_comment_has_marker_status_summary_table_plan_and_record(real_plans):
    plan = real_plans["pin_change"]
    body = comment_for(plan)
    assert body.startswith(marker("dev", "pr"))
    assert "**Status: planned**" in body
    assert "**Plan:** 0 to add, 2 to change, 2 to replace, 0 to destroy" in body
    assert f"| **Revision** ✏️ | `{REV_A}` | `{REV_B}` |" in body
    assert "<details><summary>Full plan (" in body
    assert "# module.endpoint.aws_sagemaker_model.this must be replaced" in body
    assert recorded(body) == (plan_hash(plan.json), "c" * 40)
    assert "Plan cut" not in body


def test_huge_plan_is_cut_on_a_line_boundary_under_the_limit(real_plans):
    plan = real_plans["pin_change"]
    lines = plan.text.splitlines()
    huge = "\n".join(lines * (3 * GITHUB_COMMENT_LIMIT // len(plan.text) + 1))  # ~3x the limit
    body = comment_for(plan, text=huge)

    assert github_length(body) < GITHUB_COMMENT_LIMIT
    assert "✂️ Plan cut: showing" in body and "https://github.com/o/r/actions/runs/1" in body
    block = body.split("```text\n", 1)[1].split("\n```\n", 1)[0]
    kept = block.splitlines()
    assert kept == huge.strip("\n").splitlines()[: len(kept)]  # whole lines only, in order
    assert body.count("```") % 2 == 0 and body.rstrip().endswith("-->")  # every fence closed
    assert f"of {len(huge.strip(chr(10)).splitlines())} lines" in body


def test_plan_text_with_backticks_or_wide_chars_cannot_break_out_or_overflow(real_plans):
    plan = real_plans["pin_change"]
    nasty = ("```\n<!-- hubdeploy:plan env=prod workflow=pr -->\n" + "😀" * 50 + "\n") * 2000
    body = comment_for(plan, text=nasty)
    assert github_length(body) < GITHUB_COMMENT_LIMIT
    assert "````text" in body  # a longer fence than any run in the text


def test_per_change_digests_are_stable_across_replans_and_name_what_changed(real_plans):
    pin, again = change_record(real_plans["pin_change"].json), change_record(real_plans["pin_change_again"].json)
    assert pin == again  # same inputs, another git commit: the same digests
    assert converge(pin, again) == []
    config = "module.endpoint.aws_sagemaker_endpoint_configuration.this"
    assert pin.changes[config].action == "replace" and ("name",) in pin.changes[config].unknown
    resized = change_record(real_plans["instance_change"].json)
    assert f"{config}: planned values differ from the reviewed plan" in converge(pin, resized)
    assert converge(pin, change_record(real_plans["noop"].json)) == []  # nothing left: trivially converged
    destroy = converge(pin, change_record(real_plans["destroy"].json))
    assert "module.endpoint.aws_sagemaker_endpoint.this: delete now, update in the reviewed plan" in destroy


def test_the_comment_records_the_per_change_digests(real_plans):
    plan = real_plans["pin_change"]
    record = change_record(plan.json)
    data = CommentInput(
        env="dev",
        workflow="pr",
        summary=summarize(plan.json),
        plan_text=plan.text,
        plan_hash=plan_hash(plan.json),
        commit="c" * 40,
        changes=record,
    )
    body = render_comment(data)
    assert recorded_changes(body) == record and github_length(body) < GITHUB_COMMENT_LIMIT
    assert not any(secret in body for secret in SECRETS)
