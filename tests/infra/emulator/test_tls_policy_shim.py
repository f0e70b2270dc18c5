"""The TLS-only bucket policy `hubdeploy bootstrap` writes must not lock the local stack out of its own
buckets: moto treats the unimplemented `Bool` condition as always true (shim
`s3_bucket_policy_conditions` in hubdeploy/emulator/shims.py). Plain moto shows the gap."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.infra.bootstrap import tls_only_policy
from hubdeploy.infra.emulator import shims

pytestmark = pytest.mark.unit


def test_tls_only_bucket_allows_requests_the_emulator_serves(mode: str) -> None:
    # given a bucket with hubdeploy's TLS-only policy
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="tls-only-bucket")
    s3.put_bucket_policy(Bucket="tls-only-bucket", Policy=tls_only_policy("tls-only-bucket"))
    # when an object is written and read
    if mode == "plain":
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="tls-only-bucket", Key="k", Body=b"x")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return
    s3.put_object(Bucket="tls-only-bucket", Key="k", Body=b"x")
    # then it works, as it does over AWS's HTTPS endpoints
    assert s3.get_object(Bucket="tls-only-bucket", Key="k")["Body"].read() == b"x"


def test_other_deny_statements_still_deny() -> None:
    assert shims._condition_holds({"Bool": {"aws:SecureTransport": "false"}}) is False
    assert shims._condition_holds({"Bool": {"aws:SecureTransport": ["true"]}}) is True
    assert shims._condition_holds({"StringEquals": {"aws:SourceVpce": "vpce-1"}}) is None  # left to moto
