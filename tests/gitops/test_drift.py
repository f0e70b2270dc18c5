"""`hubdeploy drift` against the emulator and a fake GitHub: a change made outside Terraform (the Lambda's memory,
changed with boto3) opens the env's drift issue naming it; a merged but undeployed pin change alone opens none,
is listed as undeployed and closes the old issue; both at once: the issue lists both. The tests run in order
and share one applied dev and one fake GitHub. Unit tests of the analysis on small plan documents first."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.checkout import copy_checkout
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.gitops import drift
from hubdeploy.gitops.drift import DriftReport
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.infra import accountroot
from hubdeploy.infra.emulator.override import EMULATED_ACCOUNT_ID
from hubdeploy.infra.emulator.process import Emulator
from hubdeploy.infra.naming import state_bucket_name
from hubdeploy.settings import Settings

from .fakegithub import FakeGitHub, FakeGitHubServer

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "hubdeploy-dev"
LAMBDA = "module.api.aws_lambda_function.this"
MODEL = "module.endpoint.aws_sagemaker_model.this"
ENDPOINT = "module.endpoint.aws_sagemaker_endpoint.this"


def drift_entry(address: str, before: dict[str, Any], after: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "change": {"actions": ["update"], "before": before, "after": after, **extra},
    }


def planned(address: str, actions: list[str], before: Any, after: Any, **extra: Any) -> dict[str, Any]:
    change = {"actions": actions, "before": before, "after": after, "after_unknown": {}, **extra}
    return {"address": address, "mode": "managed", "type": address.split(".")[-2], "change": change}


@pytest.mark.unit
def test_values_read_back_as_empty_or_set_by_aws_are_not_drift():
    # null read back as [] / {} / "", and a computed value the code does not set (the normal plan keeps it)
    refresh = {
        "resource_drift": [
            drift_entry("aws_api_gateway_method.post", {"request_parameters": None}, {"request_parameters": {}}),
            drift_entry("aws_cognito_user_pool.this", {"domain": ""}, {"domain": "hubdeploy-dev"}),
        ]
    }
    report = drift.analyse(refresh, {"resource_changes": []}, env="dev")
    assert not report.has_drift and report.undeployed == ()
    assert report.ignored == ("aws_api_gateway_method.post", "aws_cognito_user_pool.this")
    assert report.line() == "no drift; no undeployed changes"


@pytest.mark.unit
def test_a_resource_deleted_outside_terraform_is_drift_and_recreating_it_is_not_undeployed():
    refresh = {"resource_drift": [{"address": "aws_kms_key.this", "change": {"actions": ["delete"], "before": {}}}]}
    plan = {"resource_changes": [planned("aws_kms_key.this", ["create"], None, {"description": "k"})]}
    report = drift.analyse(refresh, plan, env="dev")
    assert [(d.address, d.action) for d in report.drifted] == [("aws_kms_key.this", "deleted")]
    assert report.undeployed == ()


@pytest.mark.unit
def test_a_drifted_resource_with_a_merged_change_of_another_attribute_is_both():
    # memory changed outside, and the merged code also changes the timeout: drift AND an undeployed change
    refresh = {"resource_drift": [drift_entry("aws_lambda_function.this", {"memory_size": 256}, {"memory_size": 1024})]}
    before, after = {"memory_size": 1024, "timeout": 10}, {"memory_size": 256, "timeout": 30}
    plan = {"resource_changes": [planned("aws_lambda_function.this", ["update"], before, after)]}
    report = drift.analyse(refresh, plan, env="dev")
    assert [d.address for d in report.drifted] == ["aws_lambda_function.this"]
    assert [(u.address, u.verb) for u in report.undeployed] == [("aws_lambda_function.this", "update")]


@pytest.mark.unit
def test_sensitive_values_are_masked_and_the_issue_fits_githubs_limit():
    secret = drift_entry(
        "aws_ssm_parameter.secret",
        {"value": "old-s3cr3t"},
        {"value": "new-s3cr3t"},
        before_sensitive={"value": True},
        after_sensitive={"value": True},
    )
    plan = {
        "resource_changes": [
            planned("aws_ssm_parameter.secret", ["update"], {"value": "new-s3cr3t"}, {"value": "old-s3cr3t"})
        ]
    }
    report = drift.analyse({"resource_drift": [secret]}, plan, env="dev", refresh_text="line\n" * 40_000)
    body = drift.render_issue(report, run_url="https://github.com/o/r/actions/runs/1")
    assert "s3cr3t" not in body and "(sensitive value)" in body
    assert len(body) < 65_536 and "✂️ Cut" in body
    assert "s3cr3t" not in json.dumps(report.to_json())


@pytest.mark.unit
def test_no_drift_and_no_issue_touches_nothing(fake_github):
    client = GitHubClient(token="t", repository="o/r", api_url=fake_github.url)
    report = DriftReport(env="dev", undeployed=(drift.Undeployed(MODEL, "replace"),))
    assert drift.sync_issue(client, report, label="drift", run_url=None) == "no open drift issue"
    assert fake_github.writes() == []


@dataclass
class Deployed:
    repo: Path
    work: Path
    github: FakeGitHub
    endpoint_url: str
    rev2: str
    applied_memory: int = 0
    runs: int = 0

    def set_memory(self, size: int) -> None:
        """A change made outside Terraform (console, CLI, another tool)."""
        boto3.client("lambda", region_name="us-east-1", endpoint_url=self.endpoint_url).update_function_configuration(
            FunctionName=FUNCTION, MemorySize=size
        )

    def drift(self, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any], str, dict[str, str]]:
        """`hubdeploy drift` in a fresh Actions-like step: (stdout, drift.json, job summary, step outputs)."""
        self.runs += 1
        step = self.work / f"step-{self.runs}"
        step.mkdir()
        out = self.work / "plans" / f"drift-{self.runs}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GITHUB_STEP_SUMMARY", str(step / "summary.md"))
            mp.setenv("GITHUB_OUTPUT", str(step / "output"))
            capsys.readouterr()
            assert main(["drift", "--env", "dev", "--out", str(out)]) == 0
            printed = capsys.readouterr().out
        outputs = dict(line.split("=", 1) for line in (step / "output").read_text().splitlines())
        report = json.loads((out / drift.REPORT_FILE).read_text())
        return printed, report, (step / "summary.md").read_text(), outputs

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.github.issues if i["state"] == "open"]


@pytest.fixture(scope="module")
def deployed(
    emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_model_dir_v2: Path
) -> Iterator[Deployed]:
    """dev applied at revision 1 through the CLI; a fake GitHub for repository o/r."""
    emulator_session.reset()
    work = tmp_path_factory.mktemp("drift")
    repo = work / "repo"
    copy_checkout(REPO_ROOT, repo)
    cache = work / "hf-cache"
    with pytest.MonkeyPatch.context() as mp, FakeGitHubServer(FakeGitHub()) as github:
        for key, value in emulator_session.aws_env().items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "HF_TOKEN", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV"):
            mp.delenv(key, raising=False)
        mp.setenv("HUBDEPLOY_ROOT", str(repo))
        mp.setenv("HF_HUB_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GITHUB_SHA", "e" * 40)
        mp.setenv("GITHUB_API_URL", github.url)
        mp.setenv("GITHUB_REPOSITORY", "o/r")
        mp.setenv("GITHUB_TOKEN", "test-token")
        rev1 = install_in_hf_cache(tiny_model_dir, cache, DEFAULT_HUB_MODEL_ID)
        d = Deployed(
            repo=repo,
            work=work,
            github=github,
            endpoint_url=emulator_session.endpoint_url,
            rev2=install_in_hf_cache(tiny_model_dir_v2, cache, DEFAULT_HUB_MODEL_ID),
        )
        assert main(["bootstrap", "--env", "dev"]) == 0
        accountroot.ensure(
            repo,
            environ=os.environ,
            endpoint_url=emulator_session.endpoint_url,
            workdir=work / "tf-account",
            state_bucket=state_bucket_name(Settings.from_env(), EMULATED_ACCOUNT_ID),
            region="us-east-1",
        )
        write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, rev1))
        publish(repo)
        first = work / "plans" / "initial"
        assert main(["plan", "--env", "dev", "--out", str(first)]) == 0
        assert main(["apply", "--env", "dev", "--plan-dir", str(first)]) == 0
        function = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=FUNCTION)
        d.applied_memory = function["Configuration"]["MemorySize"]
        yield d


def publish(repo: Path) -> None:
    shutil.rmtree(repo / ".build", ignore_errors=True)
    assert main(["build", "--env", "dev"]) == 0
    assert main(["publish", "--env", "dev"]) == 0


@pytest.mark.terraform
def test_drift_and_undeployed_changes_at_once_are_both_in_the_issue(deployed: Deployed, capsys):
    # given the applied dev, a pin change merged but not applied (waiting for approval), and the Lambda's memory
    # raised outside Terraform
    write_pin(deployed.repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, deployed.rev2))
    publish(deployed.repo)
    new_memory = deployed.applied_memory * 4
    deployed.set_memory(new_memory)
    printed, report, summary, outputs = deployed.drift(capsys)
    # then the drift names the resource and the attribute, with both values
    assert [d["address"] for d in report["drifted"]] == [LAMBDA]
    attributes = {a["path"]: (a["before"], a["after"]) for a in report["drifted"][0]["attributes"]}
    assert attributes == {"memory_size": (str(deployed.applied_memory), str(new_memory))}
    # and, apart, the undeployed changes (not the Lambda: setting it back is drift's)
    undeployed = {u["address"]: u["verb"] for u in report["undeployed"]}
    assert undeployed[MODEL] == "replace" and undeployed[ENDPOINT] == "update" and LAMBDA not in undeployed
    assert (outputs["drift"], outputs["undeployed"]) == ("true", "true")
    assert f"DRIFT: 1 resource changed outside Terraform: {LAMBDA} (memory_size)" in printed
    assert "created issue #" in printed
    (issue,) = deployed.open_issues()
    assert issue["title"] == "Drift detected in dev" and issue["labels"] == ["drift"]
    body = issue["body"]
    assert body.startswith("<!-- hubdeploy:plan env=dev workflow=drift -->")
    assert f"| `{LAMBDA}` | changed | `memory_size`: `{deployed.applied_memory}` → `{new_memory}` |" in body
    assert "**Undeployed changes (merged, not applied yet)**" in body and f"| `{MODEL}` | replace |" in body
    assert body.index("Changed outside Terraform") < body.index("Undeployed changes")
    assert "Refresh-only plan (" in body and "Changed outside Terraform" in summary


@pytest.mark.terraform
def test_an_undeployed_pin_change_alone_is_listed_not_drift_and_closes_the_issue(deployed: Deployed, capsys):
    # given the outside change undone, the merged pin change still not applied
    deployed.set_memory(deployed.applied_memory)
    printed, report, summary, outputs = deployed.drift(capsys)
    # then there is no drift: the undeployed changes are listed apart, and the drift issue is closed
    assert report["drifted"] == []
    undeployed = {u["address"]: u["verb"] for u in report["undeployed"]}
    assert undeployed[MODEL] == "replace" and undeployed[ENDPOINT] == "update"
    assert (outputs["drift"], outputs["undeployed"], outputs["has-changes"]) == ("false", "true", "true")
    assert f"  undeployed (merged, not applied yet): {MODEL} (replace)" in printed
    assert "closed issue #" in printed
    assert deployed.open_issues() == []
    (closing,) = [c["body"] for c in deployed.github.comments[deployed.github.issues[0]["number"]]]
    assert closing.startswith("No drift any more") and "undeployed changes (merged, not applied yet) remain" in closing
    assert "**Undeployed changes (merged, not applied yet)**" in summary and f"| `{MODEL}` | replace |" in summary
    assert "Plan of the undeployed changes (" in summary  # the normal plan's text, for the reviewer
