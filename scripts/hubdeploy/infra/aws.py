"""boto3 at the edge: one client factory and one translation of AWS failures into AwsError.

Every command that talks to AWS gets its clients from `client()` (so `AWS_ENDPOINT_URL` sends them
all to moto or the local stack) and wraps its calls in `aws_errors()`, so "no credentials",
"access denied" and "no such bucket" end as one line that says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import AwsError

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

# Codes that mean "who you are is not allowed", whatever the service calls it.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"})
BAD_CREDENTIALS_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidToken",
    }
)
NO_BUCKET_CODES = frozenset({"NoSuchBucket"})
# Retries are for throttling and flaky networks, not for a misconfigured emulator that answers 500.
MAX_ATTEMPTS = 4


def session(settings: Settings) -> Any:
    """A boto3 session with the credentials of `settings.environ`: its profile, else its static keys, else
    boto3's own chain (web identity, instance role). Not the process environment: the local stack and
    `preview` run with the emulator's fake keys while the process may hold a user's real ones."""
    import boto3

    env = settings.environ
    if env.get("AWS_PROFILE"):
        return boto3.session.Session(profile_name=env["AWS_PROFILE"], region_name=settings.aws_region)
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=settings.aws_region,
        )
    return boto3.session.Session(region_name=settings.aws_region)


def client(service: str, settings: Settings, **kwargs: Any) -> Any:
    """A boto3 client for `service` in the settings' region, pointed at the emulator when one is set."""
    from botocore.config import Config

    config = Config(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"}, user_agent_extra="hubdeploy")
    return session(settings).client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
        **kwargs,
    )


def account_id(settings: Settings) -> str:
    """The AWS account the current credentials belong to (STS GetCallerIdentity)."""
    with aws_errors("find your AWS account (sts get-caller-identity)"):
        return str(client("sts", settings).get_caller_identity()["Account"])


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_code(exc: BaseException, *codes: str) -> bool:
    """True if `exc` is a ClientError with one of `codes` (HTTP status codes count as codes too)."""
    response = getattr(exc, "response", None) or {}
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error_code(exc) in codes or (status in codes)


def translate(exc: BaseException, action: str, *, bucket: str | None = None, key: str | None = None) -> AwsError | None:
    """Turn a known botocore failure into an AwsError naming what was being done; None if unknown."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    where = f"s3://{bucket}/{key}" if bucket and key else (f"bucket {bucket}" if bucket else "")
    what = f"{action}{' (' + where + ')' if where else ''}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return AwsError(
            f"no AWS credentials found to {what}",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (in CI: configure OIDC role credentials)",
        )
    if isinstance(exc, NoRegionError):
        return AwsError(f"no AWS region set to {what}", hint="set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(f"cannot reach AWS to {what}: {exc}", hint="check the network or AWS_ENDPOINT_URL")
    if not isinstance(exc, ClientError):
        return None
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or code
    if code in NO_BUCKET_CODES:
        return AwsError(
            f"bucket {bucket or '?'} does not exist (while trying to {action})",
            hint="run `hubdeploy bootstrap --env <env>` or pass the right --bucket",
        )
    if code in BAD_CREDENTIALS_CODES:
        return AwsError(f"AWS rejected the credentials ({code}) to {what}", hint="refresh or fix your AWS credentials")
    if code in ACCESS_DENIED_CODES or is_code(exc, "403"):
        return AwsError(
            f"access denied to {what}: {message}",
            hint="use credentials whose IAM policy allows this action on this resource",
        )
    return AwsError(f"AWS refused to {what}: {code}: {message}", hint="re-run with --debug for details")


@contextmanager
def aws_errors(action: str, *, bucket: str | None = None, key: str | None = None) -> Iterator[None]:
    """Re-raise known botocore failures inside the block as one-line AwsErrors; let others through."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        translated = translate(exc, action, bucket=bucket, key=key)
        if translated is None:
            raise
        raise translated from exc
