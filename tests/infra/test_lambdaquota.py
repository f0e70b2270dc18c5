"""`hubdeploy bootstrap` checks an env's Lambda reservation against the account (new accounts: limit 10,
100 always kept unreserved), and the committed envs reserve nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.core.config import default_user_config

from hubdeploy.cli import main
from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.infra import lambdaquota
from hubdeploy.infra.emulator import rules, shims

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_committed_env_reserves_concurrency(env: str):
    # a reservation would fail the first apply in a new account (limit 10 < 100 kept unreserved + any)
    assert lambdaquota.configured_reservation(REPO / "terraform" / "envs" / env) is None


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("lambda_reserved_concurrency = 5\n", 5),
        ("lambda_reserved_concurrency   = 50 # prod, after a quota increase\n", 50),
        ("lambda_reserved_concurrency = null # unreserved\n", None),
        ('aws_region = "us-east-1"\n', None),
        ("throttle = {\n  lambda_reserved_concurrency = 7\n}\n", None),  # not top level
    ],
)
def test_the_reservation_is_read_from_the_envs_tfvars(tmp_path: Path, line: str, value: int | None):
    (tmp_path / "terraform.tfvars").write_text(line)
    assert lambdaquota.configured_reservation(tmp_path) == value


def test_a_reservation_that_is_no_number_is_refused_in_one_line(tmp_path: Path):
    (tmp_path / "terraform.tfvars").write_text('lambda_reserved_concurrency = "ten"\n')
    with pytest.raises(UsageError) as refused:
        lambdaquota.configured_reservation(tmp_path)
    assert "is not a whole number or null" in refused.value.one_line()


def test_a_new_accounts_limit_fits_no_reservation():
    report = lambdaquota.ReservationCheck(env="dev", reservation=5, limit=10, unreserved=10)
    assert not report.fits
    assert report.reservable == -90 and report.limit_needed == 105
    warning = report.warning()
    for fact in ("lambda_reserved_concurrency = 5", "limit is 10 with 10 unreserved", "at most 0", "at least 105"):
        assert fact in warning
    assert lambdaquota.ReservationCheck(env="dev", reservation=None, limit=10, unreserved=10).fits


def test_the_functions_own_reservation_is_replaced_not_added():
    # prod reserves 50 today, other functions 750, of 1000: 200 unreserved, and 150 reservable for prod
    report = lambdaquota.ReservationCheck(env="prod", reservation=150, limit=1000, unreserved=200, current=50)
    assert report.fits and report.reservable == 150
    assert not lambdaquota.ReservationCheck(env="prod", reservation=151, limit=1000, unreserved=200, current=50).fits


@pytest.fixture
def strict_aws(aws_credentials: None, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """In-process moto with the strict rules (GetAccountSettings included); returns a setter of the limit."""
    from moto import mock_aws

    for var in ("AWS_ENDPOINT_URL", "HUBDEPLOY_STATE_BUCKET", "HUBDEPLOY_ARTIFACT_BUCKET"):
        monkeypatch.delenv(var, raising=False)

    def set_limit(limit: int) -> None:
        monkeypatch.setitem(
            default_user_config, "lambda", {**default_user_config["lambda"], "concurrent_executions": limit}
        )

    shims.revert_all()
    shims.apply_all()
    rules.apply_all()
    with mock_aws():
        yield set_limit
    shims.revert_all()


def reserve(repo: Path, env: str, value: int) -> None:
    values = repo / "terraform" / "envs" / env / "terraform.tfvars"
    lines = [line for line in values.read_text().splitlines() if not line.startswith("lambda_reserved_concurrency")]
    values.write_text("\n".join([*lines, f"lambda_reserved_concurrency = {value}"]) + "\n")


def test_bootstrap_warns_with_the_numbers_when_the_reservation_cannot_fit(
    strict_aws: Any, repo: Path, capsys: pytest.CaptureFixture[str]
):
    # given a new account (limit 10) and dev reserving 5, as it used to
    strict_aws(10)
    reserve(repo, "dev", 5)
    # when bootstrap runs, then it still sets up the buckets and warns what to change
    assert main(["bootstrap", "--env", "dev"]) == 0
    out, err = capsys.readouterr()
    assert "Lambda concurrency: account limit 10, 10 unreserved; hubdeploy-dev reserves 5" in out
    (warning,) = [line for line in err.splitlines() if "cannot fit" in line]
    assert "lambda_reserved_concurrency = 5 in terraform/envs/dev/terraform.tfvars cannot fit" in warning
    assert "Set lambda_reserved_concurrency = null" in warning and "at least 105" in warning


def test_bootstrap_is_quiet_about_the_committed_unreserved_envs(strict_aws: Any, capsys: pytest.CaptureFixture[str]):
    strict_aws(10)
    assert main(["bootstrap", "--env", "prod"]) == 0
    out, err = capsys.readouterr()
    assert "account limit 10, 10 unreserved; hubdeploy-prod unreserved" in out
    assert "cannot fit" not in err


def test_a_reservation_fits_an_account_at_the_default_limit(
    strict_aws: Any, repo: Path, capsys: pytest.CaptureFixture[str]
):
    reserve(repo, "prod", 50)
    assert main(["bootstrap", "--env", "prod"]) == 0
    out, err = capsys.readouterr()
    assert "account limit 1000, 1000 unreserved; hubdeploy-prod reserves 50" in out
    assert "cannot fit" not in err
