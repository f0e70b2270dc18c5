"""Commands that only read an env's outputs (smoke, record-endpoint, rollback) reuse the init of the job's plan step
instead of running `terraform init` again, and init when the data dir is initialised for another backend or not at
all. (That `initialised` reads terraform's real data-dir file: tests/terraform/test_dev_lifecycle.py.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.infra import aws, envroot, naming
from hubdeploy.settings import Settings

pytestmark = pytest.mark.unit

ENV = "dev"
ACCOUNT = "123456789012"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The terraform subcommands run, recorded instead of run (`output -json` answers one output)."""
    seen: list[str] = []

    def run(args: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(args[0])
        return subprocess.CompletedProcess(args, 0, json.dumps({"endpoint_name": {"value": "hubdeploy-dev"}}), "")

    monkeypatch.setattr(envroot, "run_terraform", run)
    monkeypatch.setattr(aws, "account_id", lambda _settings: ACCOUNT)
    return seen


def record_backend(settings: Settings, **changed: str) -> None:
    """Write the data dir's backend record as `terraform init` leaves it (bucket, region, key; `changed` wins)."""
    root = envroot.open_root(settings, ENV, initialise=False)
    config = {
        "bucket": naming.state_bucket_name(settings, ACCOUNT),
        "region": settings.aws_region,
        "key": naming.state_key(ENV),
        **changed,
    }
    root.data_dir.mkdir(parents=True, exist_ok=True)
    record = {"version": 3, "backend": {"type": "s3", "config": config}}
    (root.data_dir / "terraform.tfstate").write_text(json.dumps(record))


@pytest.fixture
def settings(repo: Path, aws_credentials: None) -> Settings:
    return Settings.from_env({"HUBDEPLOY_ROOT": str(repo), "AWS_REGION": "eu-west-1"})


def test_outputs_after_the_plan_steps_init_run_no_second_init(settings: Settings, calls: list[str]):
    record_backend(settings)
    assert envroot.read_outputs(settings, ENV, None) == {"endpoint_name": "hubdeploy-dev"}
    assert calls == ["output"]


@pytest.mark.parametrize(
    "changed",
    [{"bucket": "hubdeploy-tfstate-other"}, {"region": "us-east-1"}, {"key": "envs/staging/terraform.tfstate"}],
    ids=["other-bucket", "other-region", "other-key"],
)
def test_a_data_dir_initialised_for_another_backend_is_initialised_again(
    settings: Settings, calls: list[str], changed: dict[str, str]
):
    record_backend(settings, **changed)
    envroot.read_outputs(settings, ENV, None)
    assert calls == ["init", "output"]


def test_a_data_dir_never_initialised_is_initialised(settings: Settings, calls: list[str]):
    envroot.read_outputs(settings, ENV, None)
    assert calls == ["init", "output"]


def test_a_plan_always_inits(settings: Settings, calls: list[str]):
    # the plan step is what initialises the job's data dir: it never trusts an old one
    record_backend(settings)
    envroot.open_root(settings, ENV)
    assert calls == ["init"]
