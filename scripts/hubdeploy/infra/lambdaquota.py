"""Does an environment's Lambda reservation fit the account? (`hubdeploy bootstrap` asks.)

Lambda refuses a reserved concurrency that would leave fewer than 100 executions unreserved in the
account and region (PutFunctionConcurrency: InvalidParameterValueException), and new accounts start with
a limit of 10, so any reservation fails there on the first apply, deep inside `terraform apply`.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html

What is checked: the value of `lambda_reserved_concurrency` in `terraform/envs/<env>/terraform.tfvars`
(absent = the root's default, null = unreserved), against GetAccountSettings' `ConcurrentExecutions` and
`UnreservedConcurrentExecutions`, counting the reservation the env's function `hubdeploy-<env>` already
holds (an apply replaces it rather than adding to it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import UsageError
from hubdeploy.infra import aws
from hubdeploy.infra.envvalues import VALUES_FILE, tfvars_names
from hubdeploy.infra.naming import stack_name

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

VARIABLE = "lambda_reserved_concurrency"
MINIMUM_UNRESERVED = 100  # Lambda keeps this many for functions without a reservation
_VALUE = re.compile(rf"^\s*{VARIABLE}\s*=\s*([^#\n]*?)\s*(?:(?:#|//).*)?$", re.MULTILINE)


def configured_reservation(env_dir: Path) -> int | None:
    """`lambda_reserved_concurrency` of an env's terraform.tfvars: a whole number, or None (null or absent:
    unreserved, the root's default).

    Raises:
        UsageError: the value is neither a whole number nor null.
    """
    values = env_dir / VALUES_FILE
    text = values.read_text()
    if VARIABLE not in tfvars_names(text):
        return None
    match = _VALUE.search(text)
    raw = match.group(1) if match else ""
    if raw == "null":
        return None
    if not raw.isdigit():
        shown = "/".join(values.parts[-4:])
        raise UsageError(
            f"{shown}: {VARIABLE} = {raw!r} is not a whole number or null",
            hint=f"set {VARIABLE} = null (unreserved) or a whole number >= 1",
        )
    return int(raw)


@dataclass(frozen=True)
class ReservationCheck:
    """An env's reservation against the account's Lambda concurrency."""

    env: str
    reservation: int | None  # None: unreserved
    limit: int  # AccountLimit.ConcurrentExecutions
    unreserved: int  # AccountLimit.UnreservedConcurrentExecutions
    current: int = 0  # what the env's function reserves today (0: none or no function yet)

    @property
    def reservable(self) -> int:
        """The most the env's function may reserve: what is unreserved (plus its own) less the 100 kept."""
        return self.unreserved + self.current - MINIMUM_UNRESERVED

    @property
    def fits(self) -> bool:
        return self.reservation is None or self.reservation <= self.reservable

    @property
    def limit_needed(self) -> int:
        """The account limit at which the reservation would fit (what to ask Service Quotas for)."""
        others = self.limit - self.unreserved - self.current
        return others + (self.reservation or 0) + MINIMUM_UNRESERVED

    def summary(self) -> str:
        wanted = "unreserved" if self.reservation is None else f"reserves {self.reservation}"
        return (
            f"Lambda concurrency: account limit {self.limit}, {self.unreserved} unreserved; "
            f"{stack_name(self.env)} {wanted} ({VARIABLE} in terraform/envs/{self.env}/{VALUES_FILE})"
        )

    def warning(self) -> str:
        return (
            f"{VARIABLE} = {self.reservation} in terraform/envs/{self.env}/{VALUES_FILE} cannot fit: the account's "
            f"Lambda concurrency limit is {self.limit} with {self.unreserved} unreserved, and Lambda keeps "
            f"{MINIMUM_UNRESERVED} unreserved, so {stack_name(self.env)} can reserve at most "
            f"{max(self.reservable, 0)}; "
            f"terraform apply would fail at PutFunctionConcurrency. Set {VARIABLE} = null (unreserved), or raise "
            f"the quota (Service Quotas > AWS Lambda > Concurrent executions) to at least {self.limit_needed}."
        )


def _current_reservation(client: Any, name: str) -> int:
    from botocore.exceptions import ClientError

    try:
        return int(client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0)
    except ClientError as exc:
        if aws.is_code(exc, "ResourceNotFoundException", "404"):
            return 0  # the env is not deployed yet
        raise


def check(settings: Settings, env: str) -> ReservationCheck:
    """Read the env's reservation and the account's Lambda settings (GetAccountSettings).

    Raises:
        AwsError: the account's settings cannot be read (credentials, permissions).
        UsageError: the env's value is not a whole number or null.
    """
    reservation = configured_reservation(settings.repo_root / "terraform" / "envs" / env)
    client = aws.client("lambda", settings)
    with aws.aws_errors("read the account's Lambda concurrency (lambda get-account-settings)"):
        limits = client.get_account_settings()["AccountLimit"]
        current = _current_reservation(client, stack_name(env))
    return ReservationCheck(
        env=env,
        reservation=reservation,
        limit=int(limits["ConcurrentExecutions"]),
        unreserved=int(limits["UnreservedConcurrentExecutions"]),
        current=current,
    )
