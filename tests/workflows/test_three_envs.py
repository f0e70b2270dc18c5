"""Three environments through the real workflow files (act): a PR pinning dev, staging and prod is planned and
commented per env, its merge deploys dev -> staging -> prod with each env's own apply role and a smoke test, and a
docs-only PR then plans "No changes" everywhere and deploys nothing. Marker `long` (`make test-workflows`)."""

from __future__ import annotations

import json

import pytest

from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin

from .conftest import APPLY_ROLE, PLAN_ROLE, PROD_APPLY_ROLE, World

pytestmark = [pytest.mark.terraform, pytest.mark.long, pytest.mark.timeout(1800)]

ENVS = ("dev", "staging", "prod")


def status_of(world: World, sha: str, env: str) -> dict | None:
    return world.github.latest_status(sha, f"hubdeploy/plan ({env})")


def endpoint_configs(world: World) -> dict[str, str]:
    from hubdeploy.infra import aws

    sagemaker = aws.client("sagemaker", world.settings())
    return {
        env: sagemaker.describe_endpoint(EndpointName=f"hubdeploy-{env}")["EndpointConfigName"]
        for env in ENVS
        if any(e["EndpointName"] == f"hubdeploy-{env}" for e in sagemaker.list_endpoints()["Endpoints"])
    }


def lock_files(world: World) -> list[str]:
    return [key for key in world.s3_keys(world.state_bucket) if key.endswith(".tflock")]


def test_pin_pr_is_planned_per_env_commented_and_recorded_on_its_head_commit(world: World) -> None:
    # given a PR pinning every env to revision 1
    pin = ModelPin(DEFAULT_HUB_MODEL_ID, world.revisions[0])
    number, head = world.open_pr({env: pin for env in ENVS}, title="pin rev1")
    # when the PR workflow runs
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    # then each env got a sticky comment showing the head commit and its creates, the plan hash is recorded as a
    # bot-authored commit status on the head commit, the required check passed, and the plans took no lock
    assert run.returncode == 0, run.output[-5000:]
    assert run.job("hubdeploy result") == "succeeded"
    for env in ENVS:
        body = world.comment(number, env)
        assert head[:12] in body and "to add" in body
        status = status_of(world, head, env)
        assert status and status["state"] == "success" and status["creator"]["login"] == "github-actions[bot]"
        assert (run.artifacts / f"plan-{env}" / "summary.json").is_file()
        assert not (run.artifacts / f"plan-{env}" / "tfplan").exists(), "the binary plan never leaves the job"
    assert {role for _job, role in run.roles} == {PLAN_ROLE}
    assert lock_files(world) == []


def test_merge_deploys_dev_then_staging_then_prod_with_smoke(world: World) -> None:
    # when the pin PR is merged
    merged, event = world.merge(1)
    run = world.run("push", event, workflow="deploy.yml")
    # then every env was gated with the plan role, applied with its own apply role (prod: the per-env
    # variable), smoke-tested, and each PR comment says applied
    assert run.returncode == 0, run.output[-5000:]
    for env in ENVS:
        assert run.job(f"deploy {env}") == "succeeded", run.jobs
        assert "✅ **Status: applied**" in world.comment(1, env)
        record = json.loads((run.artifacts / f"deploy-{env}" / "deploy-record.json").read_text())
        assert record["commit"] == merged and record["env"] == env
    roles = [role for _job, role in run.roles]
    assert roles.count(PLAN_ROLE) == 3 and roles.count(APPLY_ROLE) == 2 and roles.count(PROD_APPLY_ROLE) == 1
    assert "smoke test passed" in run.output
    assert set(endpoint_configs(world)) == set(ENVS)
    assert lock_files(world) == [], "apply released every lock"


def test_docs_only_pr_plans_no_changes_and_its_merge_asks_nobody(world: World) -> None:
    # given a PR that changes only documentation
    number, _head = world.open_pr({"docs-note.md": "Only words.\n"}, title="docs")
    run = world.run("pull_request", world.pr_event(number), workflow="pr.yml")
    assert run.returncode == 0, run.output[-5000:]
    for env in ENVS:
        assert "No changes" in world.comment(number, env), world.comment(number, env)
    # when it is merged
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
