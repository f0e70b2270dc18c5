"""The review record and deploy acceptance through the real CLI against the fake GitHub: the sticky comment
and the commit status of a pull_request / merge_group run, forged records ignored, deploy-check's three
ways to accept (reviewed, converging, approved at deploy time), the gate's outputs, the deploy record in the
comment's status line; and the per-change digests on synthetic plans (real plans: test_plans, test_pipeline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.cli import main
from hubdeploy.gitops import deployrecord
from hubdeploy.gitops.comment import marker, recorded, recorded_changes
from hubdeploy.gitops.planfolder import ACCEPTED_FILE, SUMMARY_FILE, TEXT_FILE, read_plan_folder
from hubdeploy.gitops.planhash import ChangeRecord, change_record, converge, differences, plan_hash
from hubdeploy.gitops.plansummary import PlanSummary, summarize

from .fakegithub import BOT, MALLORY_TOKEN, FakeGitHub

pytestmark = pytest.mark.unit

HEAD = "a" * 40  # the PR's head commit
MERGE_REF = "9" * 40  # GITHUB_SHA of a pull_request run: the temporary merge commit
MERGED = "b" * 40  # the commit on main the PR became
QUEUE = "d" * 40  # the merge queue's head commit
RUN = "4242"
DEV_STATUS = "hubdeploy/plan (dev)"


# -- synthetic plans ----------------------------------------------------------------------------------


def rc(address: str, actions: list[str], after: Any = None, *, unknown: Any = None, deposed: str | None = None):
    entry: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": address.split(".")[-2],
        "change": {"actions": actions, "before": {}, "after": after, "after_unknown": unknown or {}},
    }
    if deposed:
        entry["deposed"] = deposed
    return entry


MODEL = "module.endpoint.aws_sagemaker_model.this"
CONFIG = "module.endpoint.aws_sagemaker_endpoint_configuration.this"
ENDPOINT = "module.endpoint.aws_sagemaker_endpoint.this"


def reviewed_plan() -> dict[str, Any]:
    """A pin change: model and config replaced (create before destroy), the endpoint pointed at the new config."""
    return {
        "resource_changes": [
            rc(MODEL, ["create", "delete"], {"name": "dev-finbert-2", "tags": {"hubdeploy:git-commit": "c1"}}),
            rc(CONFIG, ["create", "delete"], {"name_prefix": "dev-"}, unknown={"name": True, "arn": True}),
            rc(ENDPOINT, ["update"], {"name": "dev-finbert"}, unknown={"endpoint_config_name": True}),
        ]
    }


def partly_applied_plan(*, config_name: str = "dev-123", endpoint: str = "dev-finbert") -> dict[str, Any]:
    """The same plan after an apply that created the model and config, then failed on the endpoint."""
    return {
        "resource_changes": [
            rc(MODEL, ["no-op"], {"name": "dev-finbert-2"}),
            rc(MODEL, ["delete"], None, deposed="0a1b2c3d"),
            rc(CONFIG, ["delete"], None, deposed="4e5f6a7b"),
            rc(ENDPOINT, ["update"], {"name": endpoint, "endpoint_config_name": config_name}),
        ]
    }


def test_a_partial_apply_converges_values_known_only_after_apply_may_now_be_anything():
    reviewed, current = change_record(reviewed_plan()), change_record(partly_applied_plan())
    assert converge(reviewed, current) == []
    assert set(current.changes) == {f"{MODEL} (deposed)", f"{CONFIG} (deposed)", ENDPOINT}


def test_a_change_the_reviewed_plan_did_not_make_does_not_converge():
    reviewed = change_record(reviewed_plan())
    other = change_record(partly_applied_plan(endpoint="prod-finbert"))
    assert converge(reviewed, other) == [f"{ENDPOINT}: planned values differ from the reviewed plan"]
    extra = partly_applied_plan()
    extra["resource_changes"].append(rc("aws_iam_role.admin", ["create"], {"name": "admin"}))
    extra["resource_changes"].append(rc("aws_kms_key.this", ["delete"], None, deposed="11"))
    assert converge(reviewed, change_record(extra)) == [
        "aws_iam_role.admin: create, not in the reviewed plan",
        "aws_kms_key.this (deposed): delete, which the reviewed plan does not do",
    ]
    destroyed = {"resource_changes": [rc(ENDPOINT, ["delete"])]}
    assert converge(reviewed, change_record(destroyed)) == [f"{ENDPOINT}: delete now, update in the reviewed plan"]


def test_a_replace_whose_old_object_is_gone_is_left_as_a_create():
    reviewed = change_record({"resource_changes": [rc(MODEL, ["delete", "create"], {"name": "m"})]})
    assert converge(reviewed, change_record({"resource_changes": [rc(MODEL, ["create"], {"name": "m"})]})) == []


def test_volatile_tags_do_not_count_and_the_record_holds_no_value():
    secret = "n3w-s3cr3t-never-shown"
    plan = reviewed_plan()
    plan["resource_changes"].append(rc("aws_ssm_parameter.secret", ["update"], {"value": secret}))
    record = change_record(plan)
    retagged = reviewed_plan()
    retagged["resource_changes"][0]["change"]["after"]["tags"]["hubdeploy:git-commit"] = "c2"
    assert change_record(retagged).changes[MODEL].digest == record.changes[MODEL].digest
    serialized = json.dumps(record.to_json()) + record.encode()
    assert secret not in serialized and "dev-finbert-2" not in serialized
    back = ChangeRecord.decode(record.encode())
    assert back == record and back.changes[CONFIG].unknown == (("arn",), ("name",))
    assert ChangeRecord.decode("not a record") is None and ChangeRecord.from_json({"version": 0}) is None


def test_differences_name_both_directions():
    reviewed = change_record(reviewed_plan())
    only_model = change_record({"resource_changes": [rc(MODEL, ["create", "delete"], {"name": "other"})]})
    assert differences(reviewed, only_model) == [
        f"{MODEL}: planned values differ from the reviewed plan",
        f"{ENDPOINT}: update in the reviewed plan, no longer planned",
        f"{CONFIG}: replace in the reviewed plan, no longer planned",
    ]


# -- plan folders and the GitHub side -----------------------------------------------------------------


def folder(path: Path, plan: dict[str, Any], *, env: str = "dev") -> Path:
    """A plan folder of a synthetic plan (no tfplan: deploy-check then compares the recorded digests)."""
    path.mkdir(parents=True, exist_ok=True)
    summary = summarize(plan)
    meta = {
        "env": env,
        "plan_hash": plan_hash(plan),
        "commit": MERGE_REF,
        "summary": summary.to_json(),
        "changes": change_record(plan).to_json(),
    }
    (path / SUMMARY_FILE).write_text(json.dumps(meta))
    (path / TEXT_FILE).write_text("  # module.endpoint.aws_sagemaker_endpoint.this will be updated in-place\n")
    return path


@pytest.fixture
def actions_env(tmp_path, monkeypatch, fake_github):
    """GITHUB_* of a run: outputs and summary files; events set per test with `event()`."""
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_RUN_ID", RUN)
    return tmp_path


def event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, payload: dict[str, Any], sha: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    monkeypatch.setenv("GITHUB_EVENT_NAME", name)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_SHA", sha)


def pull_request(tmp_path, monkeypatch) -> None:
    payload = {"pull_request": {"number": 5, "head": {"sha": HEAD}}}
    event(tmp_path, monkeypatch, "pull_request", payload, MERGE_REF)


def push(tmp_path, monkeypatch, sha: str = MERGED) -> None:
    event(tmp_path, monkeypatch, "push", {"after": sha}, sha)


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def review_on_pr(tmp_path, monkeypatch, fake_github: FakeGitHub, plan: dict[str, Any]) -> Path:
    """The PR workflow posted `plan` for dev (comment + status on the head); the PR was merged as MERGED."""
    pull_request(tmp_path, monkeypatch)
    reviewed = folder(tmp_path / "pr-plan", plan)
    assert main(["comment", "--env", "dev", "--plan-dir", str(reviewed)]) == 0
    fake_github.add_pull(5, head_sha=HEAD, merge_commit=MERGED)
    return reviewed


def test_pull_request_run_posts_the_comment_and_the_status_on_the_head_commit(actions_env, monkeypatch, fake_github):
    tmp_path = actions_env
    pull_request(tmp_path, monkeypatch)
    plan_dir = folder(tmp_path / "p", reviewed_plan())
    assert main(["comment", "--env", "dev", "--plan-dir", str(plan_dir)]) == 0

    (comment,) = fake_github.comments[5]
    digest = plan_hash(reviewed_plan())
    assert comment["user"]["login"] == BOT
    assert recorded(comment["body"]) == (digest, HEAD)  # the head commit, not the temporary merge commit
    assert f"commit `{HEAD[:12]}`" in comment["body"] and MERGE_REF[:12] not in comment["body"]
    assert recorded_changes(comment["body"]) == change_record(reviewed_plan())
    status = fake_github.latest_status(HEAD, DEV_STATUS)
    assert status["state"] == "success" and status["description"].startswith(f"plan {digest}")
    assert status["creator"]["login"] == BOT and len(status["description"]) <= 140
    assert fake_github.statuses.keys() == {HEAD}


def test_merge_group_run_records_only_the_status_on_the_queue_head(actions_env, monkeypatch, fake_github, capsys):
    tmp_path = actions_env
    event(tmp_path, monkeypatch, "merge_group", {"merge_group": {"head_sha": QUEUE, "head_ref": "gh-q"}}, QUEUE)
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder(tmp_path / "p", reviewed_plan()))]) == 0
    assert fake_github.comments == {}
    assert fake_github.latest_status(QUEUE, DEV_STATUS)["state"] == "success"
    assert [r.path for r in fake_github.writes()] == [f"/repos/o/r/statuses/{QUEUE}"]
    # a failed re-plan in the queue turns it to failure, and comments nowhere
    assert main(["comment", "--env", "dev", "--status", "failed", "--detail", "plan failed at x"]) == 0
    assert fake_github.latest_status(QUEUE, DEV_STATUS)["state"] == "failure"
    assert fake_github.comments == {}


def test_a_failed_replan_sets_the_failure_status_and_the_comment_status(actions_env, monkeypatch, fake_github):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    detail = f"plan failed at {HEAD[:12]}; the plan shown is outdated"

    assert main(["comment", "--env", "dev", "--status", "failed", "--detail", detail]) == 0

    status = fake_github.latest_status(HEAD, DEV_STATUS)
    assert status["state"] == "failure" and detail in status["description"]
    body = fake_github.comments[5][0]["body"]
    assert "**Status: failed**" in body and detail in body
    # and at deploy, the merged commit's review is gone: no stale success counts
    push(tmp_path, monkeypatch)
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(tmp_path / "pr-plan")]) == 1


def test_a_status_update_ignores_a_marker_comment_planted_by_another_user(
    actions_env, monkeypatch, fake_github, capsys
):
    tmp_path = actions_env
    push(tmp_path, monkeypatch)
    fake_github.add_pull(5, head_sha=HEAD, merge_commit=MERGED)
    planted = fake_github.add_comment(5, f"{marker('dev', 'pr')}\n<!-- hubdeploy:status -->x<!-- /hubdeploy:status -->")
    before = planted["body"]
    assert main(["comment", "--env", "dev", "--status", "applied"]) == 0
    assert planted["body"] == before
    assert "has no hubdeploy comment for dev" in capsys.readouterr().err


# -- deploy-check -------------------------------------------------------------------------------------


def test_the_reviewed_plan_is_accepted_from_the_pr_head_status_and_the_bot_comment(
    actions_env, monkeypatch, fake_github, capsys
):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    push(tmp_path, monkeypatch)
    deploy = folder(tmp_path / "deploy", reviewed_plan())
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(deploy)]) == 0
    assert f"the plan is the one reviewed (PR #5 (head {HEAD[:12]})" in capsys.readouterr().out
    accepted = json.loads((deploy / ACCEPTED_FILE).read_text())
    assert (accepted["accepted_as"], accepted["pr"], accepted["commit"]) == ("reviewed", 5, MERGED)


@pytest.mark.parametrize("forgery", ["comment", "status"])
def test_a_forged_review_record_is_ignored(actions_env, monkeypatch, fake_github, capsys, forgery):
    # given mallory, not the workflow, recorded the plan on the PR (a comment, or a status on its head)
    tmp_path = actions_env
    plan = reviewed_plan()
    digest = plan_hash(plan)
    fake_github.add_pull(5, head_sha=HEAD, merge_commit=MERGED)
    pull_request(tmp_path, monkeypatch)
    body = (
        f"{marker('dev', 'pr')}\n<!-- hubdeploy:status -->x<!-- /hubdeploy:status -->\n"
        f"<!-- hubdeploy:meta plan-hash={digest} commit={HEAD} -->"
    )
    if forgery == "comment":  # the real status is there, the comment is mallory's
        fake_github.add_status(HEAD, context=DEV_STATUS, state="success", description=f"plan {digest}")
        fake_github.add_comment(5, body, user="mallory")
    else:  # the real comment is there, the status is mallory's
        assert (
            main(["comment", "--env", "dev", "--plan-dir", str(folder(tmp_path / "p", plan)), "--sha", "e" * 40]) == 0
        )
        fake_github.add_status(
            HEAD, context=DEV_STATUS, state="success", description=f"plan {digest}", creator="mallory"
        )
    push(tmp_path, monkeypatch)

    # when the deploy checks the same plan, then it refuses: nothing was reviewed
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(folder(tmp_path / "deploy", plan))]) == 1
    err = capsys.readouterr().err
    what = {
        "comment": "has no hubdeploy plan comment for dev by github-actions[bot]",
        "status": f"has no {DEV_STATUS} status by github-actions[bot]",
    }[forgery]
    assert what in err and "refusing to apply" in err


def test_a_stale_comment_that_disagrees_with_the_head_status_is_not_a_review(
    actions_env, monkeypatch, fake_github, capsys
):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    fake_github.add_status(HEAD, context=DEV_STATUS, state="success", description=f"plan sha256:{'3' * 64}")
    push(tmp_path, monkeypatch)
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(folder(tmp_path / "d", reviewed_plan()))]) == 1
    assert "the comment is not the plan of the head commit" in capsys.readouterr().err


def test_a_merge_queue_commit_is_checked_against_its_own_status(actions_env, monkeypatch, fake_github, capsys):
    # given the PR planned plan A on its head, but the queue tested (and merged) its own commit with plan B
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    queued = partly_applied_plan()
    event(tmp_path, monkeypatch, "merge_group", {"merge_group": {"head_sha": QUEUE}}, QUEUE)
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder(tmp_path / "q", queued))]) == 0
    fake_github.commit_pulls[QUEUE] = fake_github.commit_pulls[MERGED]
    push(tmp_path, monkeypatch, QUEUE)

    # then the queue's plan is the reviewed one, and the PR head's is not
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(folder(tmp_path / "d1", queued))]) == 0
    assert f"the plan recorded on {QUEUE[:12]} itself (merge queue)" in capsys.readouterr().out
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(folder(tmp_path / "d2", reviewed_plan()))]) == 1


def test_a_rerun_after_a_partial_apply_converges(actions_env, monkeypatch, fake_github, capsys):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    push(tmp_path, monkeypatch)
    # a synthetic folder has no tfplan: its recorded digests are compared as they are, so the endpoint's
    # (known after apply) config name is left unknown here; test_pipeline re-plans a real partial apply
    left = {"resource_changes": partly_applied_plan()["resource_changes"][:3]}
    rerun = folder(tmp_path / "rerun", left)
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(rerun)]) == 0
    assert "converging: what is left of the plan reviewed on PR #5" in capsys.readouterr().out
    assert json.loads((rerun / ACCEPTED_FILE).read_text())["accepted_as"] == "converging"


def test_no_changes_left_is_nothing_to_apply(actions_env, monkeypatch, fake_github, capsys):
    push(actions_env, monkeypatch)
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(folder(actions_env / "n", {}))]) == 0
    assert "no changes to apply" in capsys.readouterr().out
    assert fake_github.requests == []


def other_plan() -> dict[str, Any]:
    return {"resource_changes": [rc("module.endpoint.aws_kms_key.this", ["delete"])]}


def test_a_differing_plan_is_refused_without_approval_and_accepted_with_the_envs(
    actions_env, monkeypatch, fake_github, capsys
):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    push(tmp_path, monkeypatch)
    deploy = folder(tmp_path / "deploy", other_plan())
    digest = plan_hash(other_plan())
    check = ["deploy-check", "--env", "dev", "--plan-dir", str(deploy)]

    assert main(check) == 1  # no --approved-hash
    err = capsys.readouterr().err
    assert "the plan now differs from the one reviewed on the PR" in err
    assert "module.endpoint.aws_kms_key.this: delete, not in the reviewed plan" in err
    assert f"{ENDPOINT}: update in the reviewed plan, no longer planned" in err

    assert main([*check, "--approved-hash", digest]) == 1  # nobody approved
    assert "nobody approved the dev environment's deployment in run 4242" in capsys.readouterr().err
    fake_github.approve(RUN, "staging", user="bob")
    assert main([*check, "--approved-hash", digest]) == 1  # another env's approval
    assert "nobody approved the dev environment's deployment" in capsys.readouterr().err
    assert main([*check, "--approved-hash", f"sha256:{'7' * 64}"]) == 1  # approved another plan
    assert "not the plan the environment's reviewers were shown" in capsys.readouterr().err

    fake_github.approve(RUN, "dev", user="alice")
    assert main([*check, "--approved-hash", digest]) == 0
    assert "dev: approved at deploy time by @alice" in capsys.readouterr().out
    accepted = json.loads((deploy / ACCEPTED_FILE).read_text())
    assert (accepted["accepted_as"], accepted["approved_by"]) == ("approved", "alice")


def test_a_push_without_a_pr_is_refused_unless_approved(actions_env, monkeypatch, fake_github, capsys):
    push(actions_env, monkeypatch, "f" * 40)
    deploy = folder(actions_env / "deploy", other_plan())
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(deploy)]) == 1
    assert "did not come from a pull request" in capsys.readouterr().err
    fake_github.approve(RUN, "dev", user="alice")
    assert (
        main(["deploy-check", "--env", "dev", "--plan-dir", str(deploy), "--approved-hash", plan_hash(other_plan())])
        == 0
    )


# -- gate ---------------------------------------------------------------------------------------------


def test_gate_skips_an_env_with_no_changes(actions_env, monkeypatch, fake_github, capsys):
    push(actions_env, monkeypatch)
    assert main(["gate", "--env", "prod", "--plan-dir", str(folder(actions_env / "n", {}, env="prod"))]) == 0
    assert "prod: no changes; skipping before the environment's approval" in capsys.readouterr().out
    assert outputs(actions_env) == {"deploy": "false", "review": "none", "plan-hash": plan_hash({})}
    assert fake_github.requests == []


def test_gate_passes_the_reviewed_plan(actions_env, monkeypatch, fake_github):
    review_on_pr(actions_env, monkeypatch, fake_github, reviewed_plan())
    push(actions_env, monkeypatch)
    (actions_env / "output").unlink(missing_ok=True)
    assert main(["gate", "--env", "dev", "--plan-dir", str(folder(actions_env / "g", reviewed_plan()))]) == 0
    assert outputs(actions_env) == {
        "deploy": "true",
        "review": "reviewed",
        "plan-hash": plan_hash(reviewed_plan()),
        "pr": "5",
    }
    assert len(fake_github.comments[5]) == 1  # nothing posted


def test_gate_posts_a_differing_plan_to_the_merged_pr_and_the_job_summary(
    actions_env, monkeypatch, fake_github, capsys
):
    review_on_pr(actions_env, monkeypatch, fake_github, reviewed_plan())
    push(actions_env, monkeypatch)
    (actions_env / "output").unlink(missing_ok=True)
    gate = ["gate", "--env", "dev", "--plan-dir", str(folder(actions_env / "g", other_plan()))]
    assert main(gate) == 0
    assert main(gate) == 0  # a re-run updates the same comment

    digest = plan_hash(other_plan())
    assert outputs(actions_env)["deploy"] == "true" and outputs(actions_env)["review"] == "differs"
    assert outputs(actions_env)["plan-hash"] == digest
    deploy_comments = [c for c in fake_github.comments[5] if c["body"].startswith(marker("dev", "deploy"))]
    (posted,) = deploy_comments
    body = posted["body"]
    assert "### hubdeploy deploy-time plan for `dev`" in body and "**Status: awaiting approval**" in body
    assert "differs from the plan reviewed on PR #5" in body and "module.endpoint.aws_kms_key.this" in body
    assert f"Approving the `dev` environment's deployment applies exactly this plan (`{digest}`)" in body
    assert recorded(body) == (digest, MERGED)
    summary = (actions_env / "summary.md").read_text()
    assert "Approving the `dev` environment's deployment applies exactly this plan" in summary
    assert "updated comment" in capsys.readouterr().out


def test_gate_of_a_push_without_a_pr_deploys_behind_the_approval(actions_env, monkeypatch, fake_github, capsys):
    push(actions_env, monkeypatch, "f" * 40)
    assert main(["gate", "--env", "dev", "--plan-dir", str(folder(actions_env / "g", other_plan()))]) == 0
    assert outputs(actions_env)["deploy"] == "true" and outputs(actions_env)["review"] == "differs"
    err = capsys.readouterr().err
    assert "did not come from a pull request" in err and "needs the dev environment's approval" in err
    assert "No reviewed plan" in (actions_env / "summary.md").read_text()
    assert fake_github.writes() == []


# -- the deploy record in the status line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        ({"accepted_as": "converging"}, "re-run converged: applied what was left of the reviewed plan"),
        ({"accepted_as": "approved", "approved_by": "alice"}, "deploy-time plan approved by @alice"),
        ({"accepted_as": "reviewed"}, "the plan reviewed on the PR"),
    ],
)
def test_the_comment_status_line_says_what_the_deploy_did(actions_env, monkeypatch, fake_github, accepted, expected):
    tmp_path = actions_env
    review_on_pr(tmp_path, monkeypatch, fake_github, reviewed_plan())
    push(tmp_path, monkeypatch)
    fake_github.add_comment(
        5, f"{marker('dev', 'deploy')}\n<!-- hubdeploy:status -->x<!-- /hubdeploy:status -->", user=BOT
    )
    deploy = read_plan_folder(folder(tmp_path / "deploy", reviewed_plan()))
    (deploy.path / ACCEPTED_FILE).write_text(json.dumps({"plan_hash": deploy.plan_hash, "pr": 5, **accepted}))
    record = deployrecord.build(deploy, commit=MERGED, run_url=None, result="applied", config_after="dev-123")
    deployrecord.write(deploy, record)

    assert main(["comment", "--env", "dev", "--status", "applied", "--record", str(deploy.path)]) == 0

    line = f"**Status: applied** — {expected}; endpoint config `dev-123`; commit `{MERGED[:12]}`"
    assert all(line in c["body"] for c in fake_github.comments[5])  # the PR's plan and the deploy-time plan
    assert record["pr"] == 5 and record["model"]["hub_revision"] is None and record["result"] == "applied"
    assert "| Accepted as | " in deployrecord.markdown(record)


def test_mallorys_token_writes_as_mallory(fake_github):
    from hubdeploy.gitops.github import GitHubClient

    GitHubClient(token=MALLORY_TOKEN, repository="o/r", api_url=fake_github.url).upsert_comment(
        1, "<!-- m -->", "<!-- m -->"
    )
    assert fake_github.comments[1][0]["user"]["login"] == "mallory"


def test_a_summary_without_changes_has_the_no_changes_status_description():
    from hubdeploy.gitops.review import status_description

    assert status_description("sha256:" + "1" * 64, PlanSummary()).endswith("· no changes")


# -- the evaluation beside the plan -------------------------------------------------------------------

DEV_EVALUATION = "hubdeploy/evaluation (dev)"


def evaluation(verdict: str, **extra: Any) -> dict[str, Any]:
    """The fields of `hubdeploy evaluate`'s evaluation.json that the review record reads."""
    document: dict[str, Any] = {"schema": 1, "env": "dev", "verdict": verdict, "gates": [], **extra}
    return document


PASSED = evaluation(
    "pass",
    base={"accuracy": 0.62},
    head={"accuracy": 0.64},
    flips={"count": 7},
    gates=[{"name": "max_accuracy_drop", "limit": 0.02, "value": -0.02, "passed": True}],
)
FAILED = evaluation(
    "fail",
    base={"accuracy": 0.624},
    head={"accuracy": 0.519},
    flips={"count": 64},
    gates=[
        {"name": "max_accuracy_drop", "limit": 0.02, "value": 0.105, "passed": False},
        {"name": "max_flips", "limit": 100, "value": 64, "passed": True},
    ],
)


def post(tmp_path: Path, plan_dir: Path, document: dict[str, Any] | str) -> int:
    text = document if isinstance(document, str) else json.dumps(document)
    return main(["comment", "--env", "dev", "--plan-dir", str(plan_dir), "--evaluation-json", text])


def test_the_evaluation_is_recorded_beside_the_plan_status_and_kept_in_the_plan_folder(
    actions_env, monkeypatch, fake_github
):
    tmp_path = actions_env
    pull_request(tmp_path, monkeypatch)
    plan_dir = folder(tmp_path / "p", reviewed_plan())
    assert post(tmp_path, plan_dir, PASSED) == 0
    status = fake_github.latest_status(HEAD, DEV_EVALUATION)
    assert status["state"] == "success" and status["creator"]["login"] == BOT
    assert status["description"] == "pass · accuracy 0.620 → 0.640 · 7 flips · 1 gate(s)"
    assert json.loads((plan_dir / "evaluation.json").read_text()) == PASSED
    assert fake_github.latest_status(HEAD, DEV_STATUS)["state"] == "success"  # the plan's own status, as before

    assert post(tmp_path, plan_dir, FAILED) == 0  # a re-run whose evaluation fails
    status = fake_github.latest_status(HEAD, DEV_EVALUATION)
    assert status["state"] == "failure"
    assert status["description"] == "failed: max_accuracy_drop 0.105 vs 0.020"

    assert post(tmp_path, plan_dir, "") == 0  # the evaluate job did not report: nothing unevaluated passes
    status = fake_github.latest_status(HEAD, DEV_EVALUATION)
    assert status["state"] == "failure" and "did not report" in status["description"]
    stored = json.loads((plan_dir / "evaluation.json").read_text())  # the older result is not shown as this run's
    assert stored["verdict"] == "missing"
    body = fake_github.comments[5][0]["body"]
    assert "#### Evaluation ❌ missing: the evaluate job did not report" in body


def test_a_skipped_evaluation_passes_and_every_description_fits_githubs_limit(actions_env, monkeypatch, fake_github):
    from hubdeploy.gitops.review import evaluation_status

    skipped = evaluation("skipped", reason="no model or serving code change for dev")
    assert evaluation_status(skipped) == ("success", "skipped: no model or serving code change for dev")
    long_gates = [{"name": f"gate_{i}" * 5, "limit": 0.5, "value": 0.1, "passed": False} for i in range(20)]
    for document in (skipped, PASSED, FAILED, evaluation("fail", gates=long_gates), evaluation("?"), None):
        state, description = evaluation_status(document)
        assert state in ("success", "failure") and description
    # what GitHub receives fits its 140 characters (the fake refuses longer, as GitHub does)
    pull_request(actions_env, monkeypatch)
    assert post(actions_env, folder(actions_env / "p", reviewed_plan()), evaluation("fail", gates=long_gates)) == 0
    posted = fake_github.latest_status(HEAD, DEV_EVALUATION)["description"]
    assert posted.startswith("failed: gate_0") and len(posted) <= 140 and posted.endswith("…")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("{not json", "--evaluation-json is not JSON"), (json.dumps({**PASSED, "env": "prod"}), "is not dev's")],
)
def test_an_evaluation_that_is_not_this_envs_is_refused(actions_env, monkeypatch, fake_github, capsys, given, expected):
    pull_request(actions_env, monkeypatch)
    plan_dir = folder(actions_env / "p", reviewed_plan())
    assert post(actions_env, plan_dir, given) == 1
    assert expected in capsys.readouterr().err
    assert fake_github.writes() == []  # nothing posted


def test_a_reviewed_plan_whose_evaluation_failed_is_refused_at_the_gate_and_at_deploy(
    actions_env, monkeypatch, fake_github, capsys
):
    tmp_path = actions_env
    pull_request(tmp_path, monkeypatch)
    reviewed = folder(tmp_path / "pr-plan", reviewed_plan())
    assert post(tmp_path, reviewed, FAILED) == 0
    fake_github.add_pull(5, head_sha=HEAD, merge_commit=MERGED)
    push(tmp_path, monkeypatch)
    deploy = folder(tmp_path / "deploy", reviewed_plan())
    capsys.readouterr()

    assert main(["gate", "--env", "dev", "--plan-dir", str(deploy)]) == 1
    err = capsys.readouterr().err
    assert "dev: the evaluation of the model reviewed on PR #5" in err
    assert "failure: failed: max_accuracy_drop 0.105 vs 0.020" in err and "not overridden at deploy time" in err
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(deploy)]) == 1
    assert "did not pass" in capsys.readouterr().err
    fake_github.approve(RUN, "dev", user="alice")  # an approval at deploy time does not override it
    approved = ["deploy-check", "--env", "dev", "--plan-dir", str(deploy), "--approved-hash", plan_hash(other_plan())]
    assert main(approved) == 1
    assert not (deploy / ACCEPTED_FILE).exists()

    # the PR is fixed (a passing evaluation recorded on its head): the same plan is accepted
    pull_request(tmp_path, monkeypatch)
    assert post(tmp_path, reviewed, PASSED) == 0
    push(tmp_path, monkeypatch)
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(deploy)]) == 0
