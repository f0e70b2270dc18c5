"""The PR -> merge -> deploy loop through the real workflow files (act), in `make test`: one environment (dev;
staging and prod stay unpinned, so every workflow skips them as a fresh fork does), against the emulator and the
fake GitHub. What a user sees: the comment and commit status, the one required check, what was applied, what is
left in S3 and the state. The scenarios share one repository and run in order, as a project's history does.

The longer scenarios (three environments in a row, the merge queue and two merges back to back, drift, a failed
apply and its re-run, a smoke failure and its rollback, the destroy itself) are in test_three_envs.py and
test_recovery_drift.py: `make test-workflows` (marker `long`; they do not fit `make test`'s 20 minutes on a
2-core machine yet).
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin

from .act import stop, wait_for
from .conftest import APPLY_ROLE, PLAN_ROLE, World
from .scenario import endpoint_config, lock_files, terraform_running

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(900)]


def test_a_push_that_cancels_a_running_plan_leaves_no_state_lock(world: World) -> None:
    # given a PR pinning dev, whose first run is cancelled by a newer push while terraform plans
    number, _head = world.open_pr({"dev": ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[0])}, title="pin dev")
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


def test_the_pr_is_planned_commented_and_recorded_on_its_head_commit(world: World) -> None:
    number = max(world.prs)
    head = world.prs[number]["head"]
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    # then dev got a sticky comment showing the head commit and its creates, the plan hash is a bot-authored
    # commit status on the head commit, unpinned envs were skipped, the required check passed, no lock was taken
    assert run.returncode == 0, run.output[-5000:]
    assert run.job("hubdeploy result") == "succeeded"
    body = world.comment(number, "dev")
    assert head[:12] in body and "to add" in body
    status = world.github.latest_status(head, "hubdeploy/plan (dev)")
    assert status and status["state"] == "success" and status["creator"]["login"] == "github-actions[bot]"
    assert "staging: not pinned yet: skipping" in run.output
    assert (run.artifacts / "plan-dev" / "summary.json").is_file()
    # and the evaluate job ran the pinned model through inference.py: its section is in the comment, its verdict
    # a bot status beside the plan's, its document in the plan artifact
    assert run.job("evaluate") == "succeeded" and "#### Evaluation ✅ pass" in body
    evaluated = world.github.latest_status(head, "hubdeploy/evaluation (dev)")
    assert evaluated and evaluated["state"] == "success" and evaluated["creator"]["login"] == "github-actions[bot]"
    assert json.loads((run.artifacts / "plan-dev" / "evaluation.json").read_text())["verdict"] == "pass"
    assert not (run.artifacts / "plan-dev" / "tfplan").exists(), "the binary plan never leaves the job"
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


def test_the_merge_deploys_dev_with_the_reviewed_plan_and_a_smoke_test(world: World) -> None:
    number = min(world.prs)
    merged, event = world.merge(number)
    run = world.run("push", event, workflow="deploy.yml")
    # then dev was gated with the plan role, applied with the apply role, smoke-tested, recorded, and the PR
    # comment says applied; staging and prod (unpinned) were skipped
    assert run.returncode == 0, run.output[-5000:]
    assert run.job("deploy dev") == "succeeded" and run.job("deploy staging") is None
    assert "smoke test passed" in run.output
    assert "✅ **Status: applied**" in world.comment(number, "dev")
    record = json.loads((run.artifacts / "deploy-dev" / "deploy-record.json").read_text())
    assert record["commit"] == merged and record["env"] == "dev"
    assert [role for _job, role in run.roles] == [PLAN_ROLE, APPLY_ROLE]
    assert endpoint_config(world)
    assert lock_files(world) == [], "apply released the lock"


def test_a_docs_only_pr_plans_no_changes_and_its_merge_asks_nobody(world: World) -> None:
    number, _head = world.open_pr({"docs-note.md": "Only words.\n"}, title="docs")
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    assert run.returncode == 0, run.output[-5000:]
    assert "No changes" in world.comment(number, "dev"), world.comment(number, "dev")
    assert "#### Evaluation ⏭️ skipped: no model or serving code change" in world.comment(number, "dev")
    before = endpoint_config(world)
    _merged, event = world.merge(number)
    deploy = world.run("push", event, workflow="deploy.yml")
    # then the gate finds no changes and no deploy job (no environment, no reviewer) runs
    assert deploy.returncode == 0, deploy.output[-5000:]
    assert deploy.job("plan dev") == "succeeded" and deploy.job("deploy dev") is None
    assert "no changes; skipping" in deploy.output
    assert {role for _job, role in deploy.roles} == {PLAN_ROLE}
    assert endpoint_config(world) == before


def test_a_destroy_with_the_wrong_confirmation_stops_before_any_aws_credential(world: World) -> None:
    dispatch = {"inputs": {"env": "dev", "confirm": "prod", "allow-prod": False}, "repository": {"full_name": "o/r"}}
    wrong = world.run("workflow_dispatch", dispatch, workflow="destroy.yml")
    assert wrong.returncode != 0 and "does not match the environment" in wrong.output
    assert wrong.roles == [], "the guard runs before any AWS credential"
    assert endpoint_config(world), "nothing was destroyed"
