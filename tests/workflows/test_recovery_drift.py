"""The workflows when things go wrong or move on: two merges back to back through the merge queue, drift made
outside Terraform, an apply that fails half-way and its re-run, a smoke failure and its rollback, the destroy.
Run from the real workflow files by act against the emulator and the fake GitHub. Only dev is pinned: staging
and prod are skipped as in a fresh fork (three envs in a row: test_gitops_loop.py)."""

from __future__ import annotations

import json

import pytest

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin
from hubdeploy.infra import aws

from .conftest import PLAN_ROLE, SCENARIO_MIN_ACCURACY, World, scenario_gates
from .scenario import endpoint_config, hold

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1800)]


def pin_pr_merge_deploy(world: World, revision: str, *, title: str) -> tuple[int, object]:
    number, _head = world.open_pr({"dev": ModelPin(DEFAULT_HUB_MODEL_ID, revision)}, title=title)
    planned = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    assert planned.returncode == 0, planned.output[-5000:]
    _merged, event = world.merge(number)
    return number, world.run("push", event, workflow="deploy.yml")


def test_two_queued_merges_deploy_in_order_each_as_the_queue_tested_it(world: World) -> None:
    # given two PRs in the merge queue: A pins dev, B (queued behind it, on top of A) changes docs
    a, _ = world.open_pr({"dev": ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[0])}, title="pin dev")
    b, _ = world.open_pr({"docs-b.md": "B\n"}, title="docs b")
    merged_a, push_a = world.merge(a)
    merged_b, push_b = world.merge(b)
    for number, merged in ((a, merged_a), (b, merged_b)):
        queue = {
            "action": "checks_requested",
            "merge_group": {"head_sha": merged, "head_ref": f"refs/heads/gh-readonly-queue/main/pr-{number}-{merged}"},
            "repository": {"full_name": "o/r"},
        }
        run = world.run("merge_group", queue, workflow="pr.yml")
        assert run.returncode == 0, run.output[-5000:]
        assert run.job("hubdeploy result") == "succeeded"
        assert "staging: not pinned yet: skipping" in run.output, "an unpinned env is skipped, not failed"
        status = world.github.latest_status(merged, "hubdeploy/plan (dev)")
        assert status and status["state"] == "success", "the plan is recorded on the commit the queue tested"
        assert world.github.comments.get(number) is None, "the queue does not comment"
    # when both deploys run, in merge order (deploy.yml's queue)
    first = world.run("push", push_a, workflow="deploy.yml")
    second = world.run("push", push_b, workflow="deploy.yml")
    # then A applied dev as its queue run planned it (the PR head was never planned: only the queue's record
    # can have accepted it) and B found nothing left: both deployed, neither replaced the other
    assert first.returncode == 0, first.output[-5000:]
    assert first.job("deploy dev") == "succeeded"
    assert first.job("deploy staging") is None and first.job("deploy prod") is None
    assert world.github.latest_status(world.prs[a]["head"], "hubdeploy/plan (dev)") is None
    record = json.loads((first.artifacts / "deploy-dev" / "deploy-record.json").read_text())
    assert record["commit"] == merged_a
    assert second.returncode == 0, second.output[-5000:]
    assert second.job("deploy dev") is None and "no changes; skipping" in second.output


def test_nightly_drift_reports_outside_changes_only(world: World) -> None:
    schedule = {"schedule": "17 5 * * *", "repository": {"full_name": "o/r"}}
    # given dev as deployed: no drift, no issue
    quiet = world.run("schedule", schedule, workflow="drift.yml")
    assert quiet.returncode == 0, quiet.output[-5000:]
    assert "dev: no drift" in quiet.output and world.github.issues == []
    assert {role for _job, role in quiet.roles} == {PLAN_ROLE}
    # when someone changes the Lambda by hand
    lam = aws.client("lambda", world.settings())
    lam.update_function_configuration(FunctionName="hubdeploy-dev", MemorySize=1024)
    drifted = world.run("schedule", schedule, workflow="drift.yml")
    # then the nightly run opens one drift issue naming the resource
    assert drifted.returncode == 0, drifted.output[-5000:]
    issues = [i for i in world.github.issues if i["state"] == "open"]
    assert len(issues) == 1 and "aws_lambda_function" in issues[0]["body"], issues


def test_a_failed_apply_is_reported_smoke_tested_and_converges_on_re_run(world: World) -> None:
    # given a reviewed pin change whose apply fails after the endpoint moved (the emulator refuses to delete the
    # old endpoint configuration)
    number, _head = world.open_pr({"dev": ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[1])}, title="dev rev2")
    planned = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    assert planned.returncode == 0, planned.output[-5000:]
    before = endpoint_config(world)
    merged, event = world.merge(number)
    hold(world, "SageMaker.DeleteEndpointConfig", seconds=0.5)
    try:
        failed = world.run("push", event, workflow="deploy.yml")
    finally:
        hold(world, None)
    assert failed.returncode != 0 and failed.job("deploy dev") == "failed"
    # then smoke still ran against the moved endpoint, and the comment says what happened and what to do
    assert endpoint_config(world) != before
    assert "smoke test passed" in failed.output
    assert "re-run this job to converge" in world.comment(number, "dev")
    # when the deploy is re-run, what is left of the reviewed plan is accepted and applied
    rerun = world.run("push", world.push_event(merged), workflow="deploy.yml")
    assert rerun.returncode == 0, rerun.output[-5000:]
    assert rerun.job("deploy dev") == "succeeded"
    assert "✅ **Status: applied**" in world.comment(number, "dev")


def test_a_model_that_fails_its_evaluation_fails_the_pr_and_is_never_deployed(world: World) -> None:
    # given a PR whose dev pin is evaluated against a gate its model cannot pass (it is merged anyway: an admin)
    before = endpoint_config(world)
    change = {"dev": ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[0]), "model-gates.toml": scenario_gates(0.9)}
    number, head = world.open_pr(change, title="dev rev1, strict gate")
    planned = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    # then the evaluate job fails naming the gate, the plan is still commented with the evaluation that failed,
    # the evaluation status on the head commit is a failure and the required check fails
    assert planned.returncode != 0 and planned.job("evaluate") == "failed"
    assert planned.job("plan dev") == "succeeded" and planned.job("hubdeploy result") == "failed"
    assert "dev: accuracy 0.3333 is below min_accuracy 0.9 (model-gates.toml [dev])" in planned.output
    body = world.comment(number, "dev")
    assert "#### Evaluation ❌ fail" in body and "❌ `min_accuracy`" in body
    status = world.github.latest_status(head, "hubdeploy/evaluation (dev)")
    assert status and status["state"] == "failure" and "min_accuracy 0.333 vs 0.900" in status["description"]
    assert world.github.latest_status(head, "hubdeploy/plan (dev)")["state"] == "success"
    # when it is merged anyway, the deploy gate refuses it before anyone is asked, and nothing is applied
    _merged, event = world.merge(number)
    deploy = world.run("push", event, workflow="deploy.yml")
    assert deploy.returncode != 0 and deploy.job("deploy dev") is None
    assert "did not pass (failure: failed: min_accuracy" in deploy.output
    assert endpoint_config(world) == before
    # and main is put back to what dev serves (rev2, the scenario's gate) for the scenarios after this one
    back = {
        "dev": ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[1]),
        "model-gates.toml": scenario_gates(SCENARIO_MIN_ACCURACY),
    }
    number, _head = world.open_pr(back, title="back to rev2")
    world.merge(number)


def test_a_smoke_failure_rolls_the_endpoint_back(world: World) -> None:
    before = endpoint_config(world)
    world.api.labels = {}  # the new model answers NEUTRAL to everything: the golden set fails
    try:
        number, run = pin_pr_merge_deploy(world, world.revisions[0], title="dev rev1 again")
    finally:
        from hubdeploy.gitops.smoke import load_golden

        world.api.labels = {g.text: g.label for g in load_golden()[0]}
    assert run.returncode != 0 and run.job("deploy dev") == "failed", run.output[-5000:]
    assert "smoke test failed" in run.output, run.output[-5000:]  # failed at smoke, not earlier
    assert endpoint_config(world) == before, "the endpoint serves the previous configuration again"
    assert "↩️ **Status: rolled back**" in world.comment(number, "dev")


def test_destroy_with_the_right_confirmation_destroys_and_says_the_pin_remains(world: World) -> None:
    def dispatch(confirm: str) -> dict[str, object]:
        return {"inputs": {"env": "dev", "confirm": confirm, "allow-prod": False}, "repository": {"full_name": "o/r"}}

    # (the wrong confirmation: tests/workflows/test_gitops_loop.py)
    right = world.run("workflow_dispatch", dispatch("dev"), workflow="destroy.yml")
    assert right.returncode == 0, right.output[-5000:]
    assert aws.client("sagemaker", world.settings()).list_endpoints()["Endpoints"] == []
    assert "hubdeploy pin --env dev --remove" in right.output
    assert [k for k in world.s3_keys(world.state_bucket) if k.endswith(".tflock")] == []
