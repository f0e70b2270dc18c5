"""The artifact bucket's conditional-write enforcement (`hubdeploy bootstrap`): a write without If-None-Match is
refused, a new key with it is accepted, an overwrite with it fails 412 (rule
s3_bucket_policy_enforces_conditional_writes). Plain moto cannot evaluate the policy's condition keys and
refuses every write, conditional or not."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.artifacts.s3objects import complete_if_absent
from hubdeploy.errors import KeyExists
from hubdeploy.infra.bootstrap import bucket_policy

pytestmark = pytest.mark.unit

BUCKET = "hubdeploy-artifacts-123456789012-us-east-1"


def artifact_bucket():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(BUCKET, purpose="artifacts"))
    return s3


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_s3_bucket_policy_enforces_conditional_writes(strictness: str) -> None:
    s3 = artifact_bucket()
    if strictness == "plain":
        # moto reads the Deny's unknown condition keys as always true: even a conditional write is refused
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=b"v1", IfNoneMatch="*")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return
    # a new key with If-None-Match: accepted
    s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=b"v1", IfNoneMatch="*")
    # the same key again, with If-None-Match: S3's 412
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=b"evil", IfNoneMatch="*")
    assert code(err) == "PreconditionFailed"
    # without the header (an overwrite, or any unconditional write): the bucket policy refuses it
    for key in ("model.tar.gz", "new-key"):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"evil")
        assert code(err) == "AccessDenied"
    assert s3.get_object(Bucket=BUCKET, Key="model.tar.gz")["Body"].read() == b"v1"


def test_multipart_completion_is_checked_as_put_object(strictness: str) -> None:
    s3 = artifact_bucket()
    if strictness == "plain":
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big")["UploadId"]
        with pytest.raises(ClientError):  # moto refuses even the parts, which take no conditional header
            s3.upload_part(Bucket=BUCKET, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)
        return
    s3.put_object(Bucket=BUCKET, Key="big", Body=b"v1", IfNoneMatch="*")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big")["UploadId"]  # no conditional header: allowed
    etag = s3.upload_part(Bucket=BUCKET, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as err:  # completing without If-None-Match would overwrite "big"
        s3.complete_multipart_upload(Bucket=BUCKET, Key="big", UploadId=upload, MultipartUpload=parts)
    assert code(err) == "AccessDenied"
    with pytest.raises(KeyExists):  # with it (what publish sends): S3's 412, i.e. the key is taken
        complete_if_absent(s3, Bucket=BUCKET, Key="big", UploadId=upload, MultipartUpload=parts)
    s3.abort_multipart_upload(Bucket=BUCKET, Key="big", UploadId=upload)  # the cleanup needs no DeleteObject
    assert s3.get_object(Bucket=BUCKET, Key="big")["Body"].read() == b"v1"


def test_the_state_bucket_still_takes_terraforms_overwrites(strictness: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="hubdeploy-tfstate-123456789012-us-east-1")
    s3.put_bucket_policy(
        Bucket="hubdeploy-tfstate-123456789012-us-east-1",
        Policy=bucket_policy("hubdeploy-tfstate-123456789012-us-east-1", purpose="state"),
    )
    for body in (b"serial 1", b"serial 2"):
        s3.put_object(Bucket="hubdeploy-tfstate-123456789012-us-east-1", Key="envs/dev/terraform.tfstate", Body=body)
