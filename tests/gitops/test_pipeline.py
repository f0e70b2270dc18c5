"""The PR and deploy pipeline through the real CLI against the emulator and the real dev root:
bootstrap -> build -> publish -> `hubdeploy plan` -> `apply`, then a pin change planned, commented on a
fake GitHub PR (comment + commit status on its head), checked by `gate` and `deploy-check`, plus destroy
and drift, and last a real partial apply of the pin change whose re-run converges. Tests run in order and
share one deployment."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.checkout import copy_checkout
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.gitops.comment import GITHUB_COMMENT_LIMIT, marker, recorded, recorded_changes
from hubdeploy.gitops.drift import AttributeChange, Drifted, DriftReport, sync_issue
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.gitops.planfolder import read_plan_folder
from hubdeploy.infra import accountroot
from hubdeploy.infra.emulator.override import EMULATED_ACCOUNT_ID
from hubdeploy.infra.emulator.process import Emulator
from hubdeploy.infra.naming import state_bucket_name
from hubdeploy.settings import Settings

# tests/workflows runs this path through the workflow files; these are the CLI-level checks a workflow run does not
# show (a tampered plan folder, the destroy plan's warnings, a partial apply made by hand).
pytestmark = pytest.mark.terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMIT = "f" * 40  # the commit on main the PR became (GITHUB_SHA of the deploy)
HEAD = "a" * 40  # the PR's head commit
DEV_STATUS = "hubdeploy/plan (dev)"


@dataclass
class Pipeline:
    repo: Path
    work: Path
    rev1: str
    rev2: str

    def pin(self, revision: str) -> None:
        write_pin(self.repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))

    def publish(self) -> None:
        shutil.rmtree(self.repo / ".build", ignore_errors=True)
        assert main(["build", "--env", "dev"]) == 0
        assert main(["publish", "--env", "dev"]) == 0

    def plan(self, name: str, *extra: str) -> Path:
        out = self.work / "plans" / name
        assert main(["plan", "--env", "dev", "--out", str(out), *extra]) == 0
        return out


@pytest.fixture(scope="module")
def pipeline(
    emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_model_dir_v2: Path
) -> Iterator[Pipeline]:
    """dev applied at revision 1 through `hubdeploy plan` + `hubdeploy apply`; plans of revision 2 etc."""
    emulator_session.reset()
    work = tmp_path_factory.mktemp("gitops-pipeline")
    repo = work / "repo"
    copy_checkout(REPO_ROOT, repo)
    cache = work / "hf-cache"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in emulator_session.aws_env().items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "HF_TOKEN", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
            mp.delenv(key, raising=False)
        mp.setenv("HUBDEPLOY_ROOT", str(repo))
        mp.setenv("HF_HUB_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GITHUB_SHA", COMMIT)
        p = Pipeline(
            repo=repo,
            work=work,
            rev1=install_in_hf_cache(tiny_model_dir, cache, DEFAULT_HUB_MODEL_ID),
            rev2=install_in_hf_cache(tiny_model_dir_v2, cache, DEFAULT_HUB_MODEL_ID),
        )
        assert main(["bootstrap", "--env", "dev"]) == 0
        # the account's one-time settings (terraform/account), applied by an administrator before any env
        accountroot.ensure(
            repo,
            environ=os.environ,
            endpoint_url=emulator_session.endpoint_url,
            workdir=work / "tf-account",
            state_bucket=state_bucket_name(Settings.from_env(), EMULATED_ACCOUNT_ID),
            region="us-east-1",
        )
        p.pin(p.rev1)
        p.publish()
        first = p.plan("initial")
        assert main(["apply", "--env", "dev", "--plan-dir", str(first)]) == 0
        yield p


@pytest.fixture(scope="module")
def noop(pipeline: Pipeline) -> Path:
    """Planned right after the apply, same inputs."""
    return pipeline.plan("noop")


@pytest.fixture(scope="module")
def pin_change(pipeline: Pipeline, noop: Path) -> Path:
    pipeline.pin(pipeline.rev2)
    pipeline.publish()
    return pipeline.plan("pin-change")


@pytest.fixture(scope="module")
def replan(pipeline: Pipeline, pin_change: Path) -> Path:
    """The pin change planned again by `hubdeploy drift` (same inputs, as the deploy job re-plans at merge)."""
    out = pipeline.work / "plans" / "replan"
    assert main(["drift", "--env", "dev", "--out", str(out), "--no-issue"]) == 0
    return out


@pytest.fixture(scope="module")
def destroy(pipeline: Pipeline) -> Path:
    return pipeline.plan("destroy", "--destroy")


def test_initial_plan_created_everything(pipeline):
    folder = read_plan_folder(pipeline.work / "plans" / "initial")
    s = folder.summary
    assert s.add > 20 and (s.change, s.replace, s.destroy) == (0, 0, 0)
    assert s.model["hub_revision"] == ("-", pipeline.rev1)
    assert s.warnings == []


def test_noop_plan_after_apply(noop, pipeline):
    folder = read_plan_folder(noop)
    assert not folder.summary.has_changes and folder.summary.line().startswith("No changes")
    assert folder.summary.model["hub_revision"] == (pipeline.rev1, pipeline.rev1)


def test_pin_change_replaces_model_and_config_and_updates_the_endpoint(pipeline, pin_change):
    folder = read_plan_folder(pin_change, env="dev")
    s = folder.summary
    assert s.replace >= 2 and s.destroy == 0 and s.add == 0
    assert s.warnings == [], "a pin change must not destroy or replace anything but the model and its config"
    assert s.model["hub_revision"] == (pipeline.rev1, pipeline.rev2)
    old_sha, new_sha = s.model["artifact_sha256"]
    assert old_sha != new_sha and len(new_sha) == 64
    assert s.model["endpoint_config_name"][1] == "(known after apply)"
    assert s.model["instance_type"] == ("ml.t2.medium", "ml.t2.medium"), "dev: one instance, stock image"
    assert "must be replaced" in folder.text


def on_pr(monkeypatch: pytest.MonkeyPatch, work: Path) -> None:
    """A pull_request run of PR #5, head HEAD (GITHUB_SHA: its temporary merge commit)."""
    event = work / "pull_request.json"
    event.write_text(json.dumps({"pull_request": {"number": 5, "head": {"sha": HEAD}}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_SHA", "9" * 40)


def on_push(monkeypatch: pytest.MonkeyPatch, work: Path) -> Path:
    """The deploy run of COMMIT (PR #5 merged); returns its GITHUB_OUTPUT file."""
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    output = work / "github_output"
    output.unlink(missing_ok=True)
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    return output


def reviewed_on_pr(pipeline: Pipeline, plan_dir: Path, fake_github, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PR workflow posted `plan_dir` (comment + status on HEAD); PR #5 was merged as COMMIT."""
    on_pr(monkeypatch, pipeline.work)
    assert main(["comment", "--env", "dev", "--plan-dir", str(plan_dir)]) == 0
    fake_github.add_pull(5, head_sha=HEAD, merge_commit=COMMIT)


def test_comment_is_posted_then_updated_in_place_and_status_changes(
    pipeline, pin_change, fake_github, monkeypatch, capsys
):
    on_pr(monkeypatch, pipeline.work)
    assert main(["comment", "--env", "dev", "--plan-dir", str(pin_change)]) == 0
    assert main(["comment", "--env", "dev", "--plan-dir", str(pin_change)]) == 0
    (comment,) = fake_github.comments[5]
    body = comment["body"]
    folder = read_plan_folder(pin_change)
    assert body.startswith(marker("dev", "pr")) and len(body) < GITHUB_COMMENT_LIMIT
    assert f"`{pipeline.rev2}`" in body and "**Status: planned**" in body
    assert recorded(body) == (folder.plan_hash, HEAD)  # the PR's head, not the merge commit planned
    assert recorded_changes(body) == folder.changes and folder.changes is not None
    assert fake_github.latest_status(HEAD, DEV_STATUS)["description"].startswith(f"plan {folder.plan_hash}")

    fake_github.add_pull(5, head_sha=HEAD, merge_commit=COMMIT)
    on_push(monkeypatch, pipeline.work)
    assert main(["comment", "--env", "dev", "--status", "applied"]) == 0
    updated = fake_github.comments[5][0]["body"]
    assert "**Status: applied**" in updated and "**Status: planned**" not in updated
    assert updated.split("<!-- /hubdeploy:status -->")[1] == body.split("<!-- /hubdeploy:status -->")[1]


def test_deploy_check_accepts_the_reviewed_plan_and_refuses_another(
    pipeline, pin_change, replan, destroy, fake_github, monkeypatch, capsys
):
    reviewed_on_pr(pipeline, pin_change, fake_github, monkeypatch)
    output = on_push(monkeypatch, pipeline.work)
    assert main(["gate", "--env", "dev", "--plan-dir", str(replan)]) == 0
    assert "review=reviewed" in output.read_text()
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(replan)]) == 0
    assert f"the plan is the one reviewed (PR #5 (head {HEAD[:12]})" in capsys.readouterr().out

    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(destroy)]) == 1
    err = capsys.readouterr().err
    assert "the plan now differs from the one reviewed on the PR" in err and "refusing to apply" in err
    assert re.search(r"module\.\S+: delete(, not in| now, \w+ in) the reviewed plan", err) and "more" in err

    # the gate posts the deploy-time plan to the merged PR; approving dev's deployment then accepts it
    output.unlink()
    assert main(["gate", "--env", "dev", "--plan-dir", str(destroy)]) == 0
    gate = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert (gate["deploy"], gate["review"]) == ("true", "differs")
    (posted,) = [c for c in fake_github.comments[5] if c["body"].startswith(marker("dev", "deploy"))]
    assert "differs from the plan reviewed on PR #5" in posted["body"] and "(and " in posted["body"]
    fake_github.approve(77, "dev", user="alice")
    check = ["deploy-check", "--env", "dev", "--plan-dir", str(destroy), "--approved-hash", gate["plan-hash"]]
    assert main(check) == 0
    assert "approved at deploy time by @alice" in capsys.readouterr().out


def test_deploy_check_without_a_pr_refuses(pipeline, pin_change, fake_github, capsys):
    assert main(["deploy-check", "--env", "dev", "--plan-dir", str(pin_change), "--commit", "e" * 40]) == 1
    assert "did not come from a pull request" in capsys.readouterr().err


def test_the_apply_wrote_a_deploy_record(pipeline):
    record = json.loads((pipeline.work / "plans" / "initial" / "deploy-record.json").read_text())
    assert (record["env"], record["result"], record["commit"]) == ("dev", "applied", COMMIT)
    assert record["model"]["hub_revision"] == pipeline.rev1 and len(record["model"]["artifact_sha256"]) == 64
    assert record["endpoint_config"]["before"] is None  # the first deploy
    assert record["endpoint_config"]["after"].startswith("hubdeploy-dev-")  # known only after apply
    assert record["accepted_as"].startswith("unchecked")  # applied without deploy-check (the bootstrap)
    assert record["plan_hash"] == read_plan_folder(pipeline.work / "plans" / "initial").plan_hash


def test_apply_refuses_a_plan_folder_whose_hash_was_tampered_with(pipeline, pin_change, capsys):
    tampered = pipeline.work / "plans" / "tampered"
    shutil.copytree(pin_change, tampered)
    meta = json.loads((tampered / "summary.json").read_text())
    meta["plan_hash"] = "sha256:" + "0" * 64
    (tampered / "summary.json").write_text(json.dumps(meta))
    assert main(["apply", "--env", "dev", "--plan-dir", str(tampered)]) == 1
    assert "differs from the one reviewed" in capsys.readouterr().err


def test_destroy_plan_warns_about_everything_but_model_and_config(destroy):
    folder = read_plan_folder(destroy)
    s = folder.summary
    assert s.destroy > 20 and s.add == s.change == s.replace == 0 and folder.destroy
    warned = {w.address for w in s.warnings}
    assert "module.endpoint.aws_sagemaker_endpoint.this" in warned
    assert not any("aws_sagemaker_model" in a or "aws_sagemaker_endpoint_configuration" in a for a in warned)


def test_drift_opens_one_issue_updates_it_then_closes_it_when_gone(pipeline, replan, noop, fake_github):
    # (tests/gitops/test_drift.py makes the drift with boto3 and reads it from real refresh-only plans)
    client = GitHubClient(token="t", repository="o/r", api_url=fake_github.url)
    folder = read_plan_folder(replan)
    memory = AttributeChange("memory_size", "256", "1024")
    drifted = DriftReport(
        env="dev", drifted=(Drifted("module.api.aws_lambda_function.this", "changed", (memory,)),), commit=folder.commit
    )
    assert sync_issue(client, drifted, label="drift", run_url=None).startswith("created issue")
    assert sync_issue(client, drifted, label="drift", run_url=None).startswith("updated issue")
    (issue,) = fake_github.issues
    assert issue["title"] == "Drift detected in dev" and issue["labels"] == ["drift"]
    assert issue["body"].startswith(marker("dev", "drift")) and "Status: drift detected" in issue["body"]
    assert sync_issue(client, DriftReport(env="dev"), label="drift", run_url=None).startswith("closed issue")
    assert issue["state"] == "closed" and len(fake_github.issues) == 1
