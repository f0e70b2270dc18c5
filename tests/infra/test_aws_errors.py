"""hubdeploy.infra.aws: botocore failures become one-line AwsErrors naming the resource and the fix."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from hubdeploy.errors import AwsError
from hubdeploy.infra.aws import aws_errors, is_code, translate

pytestmark = pytest.mark.unit


def client_error(code: str, status: int = 400, message: str = "msg") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (NoCredentialsError(), "no AWS credentials found to upload (s3://b/k)"),
        (client_error("NoSuchBucket", 404), "bucket b does not exist"),
        (client_error("AccessDenied", 403), "access denied to upload (s3://b/k)"),
        (client_error("SomethingForbidden", 403), "access denied"),
        (client_error("InvalidAccessKeyId", 403), "AWS rejected the credentials (InvalidAccessKeyId)"),
        (client_error("ExpiredToken", 400), "AWS rejected the credentials (ExpiredToken)"),
        (client_error("SlowDown", 503, "reduce your rate"), "AWS refused to upload (s3://b/k): SlowDown: reduce"),
        (EndpointConnectionError(endpoint_url="http://x"), "cannot reach AWS to upload"),
    ],
)
def test_translate(exc: Exception, expected: str) -> None:
    error = translate(exc, "upload", bucket="b", key="k")
    assert isinstance(error, AwsError)
    assert expected in error.one_line() and "\n" not in error.one_line() and error.hint


def test_aws_errors_passes_unknown_exceptions_through() -> None:
    with pytest.raises(ValueError), aws_errors("do it"):
        raise ValueError("not AWS")
    with pytest.raises(AwsError, match="bucket b does not exist"), aws_errors("list", bucket="b"):
        raise client_error("NoSuchBucket", 404)


def test_is_code_matches_codes_and_statuses() -> None:
    assert is_code(client_error("PreconditionFailed", 412), "412")
    assert is_code(client_error("PreconditionFailed", 412), "PreconditionFailed")
    assert not is_code(ValueError(), "412")
