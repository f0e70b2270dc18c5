"""Small commands and edges: destroy-guard, pinned, plan-folder errors, Actions outputs, comment status
updates without a PR, the comment --dry-run, and the job summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubdeploy.cli import main
from hubdeploy.gitops.comment import CommentInput, render_job_summary, set_status
from hubdeploy.gitops.planfolder import SUMMARY_FILE, TEXT_FILE, publish_to_actions, read_plan_folder
from hubdeploy.gitops.plansummary import PlanSummary
from hubdeploy.settings import Settings

pytestmark = pytest.mark.unit


def fake_folder(path: Path, *, env: str = "dev", text: str = "plan text\n", changes: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    summary = PlanSummary(add=1 if changes else 0, model={"hub_revision": ("a" * 40, "b" * 40)})
    meta = {"env": env, "plan_hash": "sha256:" + "1" * 64, "commit": "c" * 40, "summary": summary.to_json()}
    (path / SUMMARY_FILE).write_text(json.dumps(meta))
    (path / TEXT_FILE).write_text(text)
    return path


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--env", "dev", "--confirm", "dev"], 0, "dev: destroy confirmed"),
        (["--env", "staging", "--confirm", "staging"], 0, "staging: destroy confirmed"),
        (["--env", "dev", "--confirm", "Dev"], 1, "confirmation 'Dev' does not match the environment 'dev'"),
        (["--env", "prod", "--confirm", "dev"], 1, "does not match"),
        (["--env", "prod", "--confirm", "prod"], 1, "prod is protected"),
        (["--env", "prod", "--confirm", "prod", "--allow-prod", "false"], 1, "prod is protected"),
        (["--env", "prod", "--confirm", "prod", "--allow-prod", "true"], 0, "prod: destroy confirmed"),
        (["--env", "prod", "--confirm", "prod", "--allow-prod"], 0, "prod: destroy confirmed"),
        (["--env", "qa", "--confirm", "qa"], 1, "unknown environment 'qa'"),
    ],
)
def test_destroy_guard(argv, code, message, capsys):
    assert main(["destroy-guard", *argv]) == code
    out = capsys.readouterr()
    assert message in (out.out if code == 0 else out.err)


def test_pinned_reports_and_sets_the_step_output(repo, tmp_path, monkeypatch, capsys):
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    pins = repo / "terraform" / "envs"
    (pins / "dev" / "model.auto.tfvars.json").write_text(json.dumps({"hub_model_id": "a/b", "hub_revision": "main"}))
    (pins / "prod" / "model.auto.tfvars.json").write_text(json.dumps({"hub_model_id": "a/b", "hub_revision": None}))
    assert main(["pinned", "--env", "dev"]) == 0
    assert main(["pinned", "--env", "prod"]) == 0
    assert output.read_text() == "pinned=true\npinned=false\n"
    assert "prod: not pinned yet" in capsys.readouterr().out
    # a present but invalid pin is an error, never silently skipped
    (pins / "prod" / "model.auto.tfvars.json").write_text(json.dumps({"hub_model_id": "a/b", "hub_revision": "main"}))
    assert main(["pinned", "--env", "prod"]) == 1
    assert "moving ref" in capsys.readouterr().err


def test_plan_folder_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["comment", "--env", "dev", "--plan-dir", str(tmp_path / "nope"), "--dry-run"]) == 1
    assert "is not a plan folder (missing summary.json)" in capsys.readouterr().err
    folder = fake_folder(tmp_path / "staging-plan", env="staging")
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder), "--dry-run"]) == 1
    assert "holds a plan for staging, not dev" in capsys.readouterr().err
    assert main(["apply", "--env", "staging", "--plan-dir", str(folder)]) == 1
    assert "no plan file in" in capsys.readouterr().err
    assert main(["comment", "--env", "dev"]) == 1
    assert "nothing to do" in capsys.readouterr().err


def test_comment_dry_run_prints_without_github(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    folder = fake_folder(tmp_path / "p")
    assert main(["comment", "--env", "dev", "--plan-dir", str(folder), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- hubdeploy:plan env=dev workflow=pr -->")
    assert "**Plan:** 1 to add, 0 to change, 0 to replace, 0 to destroy" in out


def test_comment_finds_the_pr_from_the_pull_request_event(tmp_path, fake_github, monkeypatch, capsys):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(["comment", "--env", "dev", "--plan-dir", str(fake_folder(tmp_path / "p"))]) == 0
    assert "created comment" in capsys.readouterr().out and len(fake_github.comments[42]) == 1


def test_status_update_without_a_pr_or_comment_warns_and_succeeds(fake_github, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_SHA", "e" * 40)
    assert main(["comment", "--env", "dev", "--status", "applied"]) == 0
    assert "no PR found for this commit" in capsys.readouterr().err
    fake_github.commit_pulls["e" * 40] = [{"number": 3, "merged_at": "x"}]
    assert main(["comment", "--env", "dev", "--status", "failed"]) == 0
    assert "has no hubdeploy comment for dev" in capsys.readouterr().err
    assert fake_github.writes() == []


def test_missing_github_token_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    assert main(["comment", "--env", "dev", "--plan-dir", str(fake_folder(tmp_path / "p")), "--pr", "1"]) == 1
    assert "no GitHub token" in capsys.readouterr().err


def test_in_actions_the_plan_goes_to_the_job_summary_and_step_outputs(tmp_path, monkeypatch):
    summary_file, output_file = tmp_path / "summary.md", tmp_path / "output"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    monkeypatch.setenv("GITHUB_OUTPUT", str(output_file))
    big = "".join(f"  # line {i} of a long plan\n" for i in range(20_000))  # ~560 KB: over the comment limit
    folder = read_plan_folder(fake_folder(tmp_path / "p", text=big))
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "9")
    publish_to_actions(Settings.from_env(), folder, workflow="pr")
    summary = summary_file.read_text()
    assert "# line 19999 of a long plan" in summary and "Plan cut" not in summary  # the full text
    assert output_file.read_text() == f"plan-hash={'sha256:' + '1' * 64}\nhas-changes=true\n"


def test_job_summary_is_cut_only_beyond_githubs_step_limit():
    text = "x" * 100 + "\n"
    data = CommentInput(
        env="dev", workflow="pr", summary=PlanSummary(add=1), plan_text=text * 20_000, plan_hash="h", commit="c"
    )
    rendered = render_job_summary(data)
    assert len(rendered) < 1_000_000 and "Plan cut" in rendered


def test_status_block_can_be_replaced_but_not_invented():
    from hubdeploy.errors import UsageError

    with pytest.raises(UsageError, match="no hubdeploy status block"):
        set_status("a comment someone edited", "applied")
    with pytest.raises(UsageError, match="unknown status"):
        set_status("<!-- hubdeploy:status -->x<!-- /hubdeploy:status -->", "done")
