"""The PR -> merge -> deploy loop through the real workflow files (act), against the emulator and the fake GitHub,
for all three environments: a PR pinning dev, staging and prod is planned, evaluated and commented per env, its
merge deploys dev -> staging -> prod with each env's own apply role and a smoke test, and a docs-only PR then
plans "No changes" everywhere and deploys nothing. What a user sees: the comments and commit statuses, the one
required check, what was applied, what is left in S3 and the state. The scenarios share one repository and run
in order, as a project's history does.

The scenarios where things go wrong or move on (the merge queue and two merges back to back, drift, a failed
apply and its re-run, a failed evaluation, a smoke failure and its rollback, the destroy itself; dev alone, so
the unpinned staging and prod are skipped as in a fresh fork) are in test_recovery_drift.py.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ENVIRONMENTS, ModelPin

from .act import stop, wait_for
from .conftest import APPLY_ROLE, PLAN_ROLE, PROD_APPLY_ROLE, World
from .scenario import endpoint_configs, lock_files, terraform_running

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1800)]

ENVS = ENVIRONMENTS  # promotion order: the deploy runs them in turn


def test_a_push_that_cancels_a_running_plan_leaves_no_state_lock(world: World) -> None:
    # given a PR pinning every env, whose first run is cancelled by a newer push while terraform plans
    pin = ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[0])
    number, _head = world.open_pr({env: pin for env in ENVS}, title="pin every env")
    proc, output, _artifacts, _log = world.act.start("pull_request", world.pr_event(number), workflow="pr.yml")
    try:
        wait_for(lambda: "hubdeploy plan --env" in output.read_text(), timeout=300, what="the plan step")
        wait_for(terraform_running, timeout=120, what="terraform to run")
        os.killpg(proc.pid, signal.SIGINT)  # GitHub signals the step's process (exec: hubdeploy itself)
        proc.wait(timeout=120)
    finally:
        stop(proc)
    # then nothing is left locked: PR plans never take the lock (the next test plans the same PR again)
    assert lock_files(world) == []


def test_the_pr_is_planned_per_env_commented_and_recorded_on_its_head_commit(world: World) -> None:
    number = max(world.prs)
    head = world.prs[number]["head"]
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    # then each env got a sticky comment showing the head commit and its creates, the plan hash is a bot-authored
    # commit status on the head commit, the required check passed, and no lock was taken
    assert run.returncode == 0, run.output[-5000:]
    assert run.job("hubdeploy result") == "succeeded"
    for env in ENVS:
        body = world.comment(number, env)
        assert head[:12] in body and "to add" in body
        status = world.github.latest_status(head, f"hubdeploy/plan ({env})")
        assert status and status["state"] == "success" and status["creator"]["login"] == "github-actions[bot]"
        assert (run.artifacts / f"plan-{env}" / "summary.json").is_file()
        assert not (run.artifacts / f"plan-{env}" / "tfplan").exists(), "the binary plan never leaves the job"
        # and the evaluate job ran the env's pinned model through inference.py: its section is in the comment,
        # its verdict a bot status beside the plan's, its document in the plan artifact
        assert "#### Evaluation ✅ pass" in body
        evaluated = world.github.latest_status(head, f"hubdeploy/evaluation ({env})")
        assert evaluated and evaluated["state"] == "success"
        assert evaluated["creator"]["login"] == "github-actions[bot]"
        assert json.loads((run.artifacts / f"plan-{env}" / "evaluation.json").read_text())["verdict"] == "pass"
    assert run.job("evaluate") == "succeeded"
    assert {role for _job, role in run.roles} == {PLAN_ROLE}
    assert lock_files(world) == []


def test_a_fork_pr_reports_the_required_check_with_a_note_and_plans_nothing(world: World) -> None:
    number, head = world.open_pr({"docs-fork.md": "From a fork.\n"}, title="fork docs")
    run = world.run("pull_request", world.pr_event(number, fork=True), workflow="pr.yml")
    assert run.returncode == 0, run.output[-5000:]
    assert run.job("hubdeploy result") == "succeeded" and run.job("plan dev") is None
    assert "Plans run only for branches of this repository" in run.output
    assert run.roles == [] and world.github.comments.get(number) is None
    assert world.github.latest_status(head, "hubdeploy/plan (dev)") is None


def test_the_merge_deploys_dev_then_staging_then_prod_with_the_reviewed_plans_and_smoke(world: World) -> None:
    number = min(world.prs)
    merged, event = world.merge(number)
    run = world.run("push", event, workflow="deploy.yml")
    # then every env was gated with the plan role, applied with its own apply role (prod: the per-env
    # variable), smoke-tested and recorded, and each PR comment says applied
    assert run.returncode == 0, run.output[-5000:]
    for env in ENVS:
        assert run.job(f"deploy {env}") == "succeeded", run.jobs
        assert "✅ **Status: applied**" in world.comment(number, env)
        record = json.loads((run.artifacts / f"deploy-{env}" / "deploy-record.json").read_text())
        assert record["commit"] == merged and record["env"] == env
    roles = [role for _job, role in run.roles]
    assert roles.count(PLAN_ROLE) == 3 and roles.count(APPLY_ROLE) == 2 and roles.count(PROD_APPLY_ROLE) == 1
    assert run.output.count("smoke test passed") >= 3
    assert set(endpoint_configs(world)) == set(ENVS)
    assert lock_files(world) == [], "apply released every lock"


def test_a_docs_only_pr_plans_no_changes_and_its_merge_asks_nobody(world: World) -> None:
    number, _head = world.open_pr({"docs-note.md": "Only words.\n"}, title="docs")
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    assert run.returncode == 0, run.output[-5000:]
    for env in ENVS:
        body = world.comment(number, env)
        assert "No changes" in body, body
        assert "#### Evaluation ⏭️ skipped: no model or serving code change" in body
    before = endpoint_configs(world)
    _merged, event = world.merge(number)
    deploy = world.run("push", event, workflow="deploy.yml")
    # then every gate finds no changes and no deploy job (no environment, no reviewer) runs
    assert deploy.returncode == 0, deploy.output[-5000:]
    for env in ENVS:
        assert deploy.job(f"plan {env}") == "succeeded"
        assert deploy.job(f"deploy {env}") is None, f"{env} deployed a docs-only change"
    assert "no changes; skipping" in deploy.output
    assert {role for _job, role in deploy.roles} == {PLAN_ROLE}
    assert endpoint_configs(world) == before


def test_a_destroy_with_the_wrong_confirmation_stops_before_any_aws_credential(world: World) -> None:
    dispatch = {"inputs": {"env": "dev", "confirm": "prod", "allow-prod": False}, "repository": {"full_name": "o/r"}}
    wrong = world.run("workflow_dispatch", dispatch, workflow="destroy.yml")
    assert wrong.returncode != 0 and "does not match the environment" in wrong.output
    assert wrong.roles == [], "the guard runs before any AWS credential"
    assert set(endpoint_configs(world)) == set(ENVS), "nothing was destroyed"
