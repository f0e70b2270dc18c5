"""The small CI commands of the PR and destroy workflows: the one required check (`hubdeploy checks`), unpinning an
env (`hubdeploy pin --remove`), what a destroy leaves (`destroy-guard --destroyed`), and smoke's URL override."""

from __future__ import annotations

import json

import pytest

from hubdeploy.cli import main
from hubdeploy.gitops.checks import FORK_NOTE, parse_needs, verdict

pytestmark = pytest.mark.unit


def needs(**results: str) -> str:
    return json.dumps({job: {"result": result, "outputs": {}} for job, result in results.items()})


def event(tmp_path, monkeypatch, head_repo: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"pull_request": {"number": 3, "head": {"repo": {"full_name": head_repo}}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")


def test_the_required_check_passes_only_when_every_needed_job_passed():
    assert verdict(parse_needs(needs(test="success", plan="success")), from_fork=False).ok
    assert not verdict(parse_needs(needs(test="success", plan="failure")), from_fork=False).ok
    assert not verdict(parse_needs(needs(test="cancelled", plan="success")), from_fork=False).ok
    # a skipped plan is expected only for a fork; a skipped test never is
    assert not verdict(parse_needs(needs(test="success", plan="skipped")), from_fork=False).ok
    assert verdict(parse_needs(needs(test="success", plan="skipped")), from_fork=True).ok
    assert not verdict(parse_needs(needs(test="skipped", plan="skipped")), from_fork=True).ok


def test_a_fork_pr_gets_the_note_in_the_summary_and_the_check_passes(tmp_path, monkeypatch, capsys):
    event(tmp_path, monkeypatch, "someone/fork")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["checks", "--needs-json", needs(test="success", plan="skipped")]) == 0
    assert FORK_NOTE in summary.read_text() and "fork PR: not planned" in capsys.readouterr().out


def test_a_failed_job_fails_the_check_naming_it(tmp_path, monkeypatch, capsys):
    event(tmp_path, monkeypatch, "o/r")
    assert main(["checks", "--needs-json", needs(test="success", plan="failure")]) == 1
    out = capsys.readouterr().out
    assert "❌ plan: failure" in out and "1 job(s) did not pass" in out


@pytest.mark.parametrize(
    ("raw", "message"),
    [("not json", "is not JSON"), ("{}", "holds no jobs"), ('{"test": {"result": "weird"}}', "no known result")],
)
def test_bad_needs_json_is_one_clear_line(raw, message, capsys):
    assert main(["checks", "--needs-json", raw]) == 1
    assert message in capsys.readouterr().err


def test_pin_remove_unpins_and_the_workflows_then_skip_the_env(repo, capsys):
    assert main(["pinned", "--env", "dev"]) == 0 and "dev: pinned" in capsys.readouterr().out
    assert main(["pin", "--env", "dev", "--remove"]) == 0
    assert "pin removed" in capsys.readouterr().out
    data = json.loads((repo / "terraform" / "envs" / "dev" / "model.auto.tfvars.json").read_text())
    assert data == {"hub_model_id": "yiyanghkust/finbert-tone", "hub_revision": None}
    assert main(["pinned", "--env", "dev"]) == 0 and "not pinned" in capsys.readouterr().out
    assert main(["pin", "--env", "dev", "--remove"]) == 0 and "nothing to remove" in capsys.readouterr().out
    assert main(["pin", "--env", "dev", "--remove", "--revision", "main"]) == 1


def test_after_a_destroy_the_summary_says_the_pin_would_recreate_the_env(repo, tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["destroy-guard", "--env", "dev", "--confirm", "dev", "--destroyed"]) == 0
    text = summary.read_text()
    assert "next merge to main plans dev again and recreates it" in text
    assert "hubdeploy pin --env dev --remove" in text
    assert main(["pin", "--env", "dev", "--remove"]) == 0
    assert main(["destroy-guard", "--env", "dev", "--confirm", "dev", "--destroyed"]) == 0
    assert "not pinned: merges to main leave it alone" in capsys.readouterr().out
    # the guard still refuses a wrong confirmation, destroyed or not
    assert main(["destroy-guard", "--env", "dev", "--confirm", "prod", "--destroyed"]) == 1
