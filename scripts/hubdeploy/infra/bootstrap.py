"""What must exist before Terraform can run: the state bucket and the artifact bucket.

Both get the same hardening: versioning, default encryption, every public access block on, objects
owned by the bucket owner (ACLs off), a policy refusing plain HTTP, and a lifecycle rule that reaps
incomplete multipart uploads. The artifact bucket's policy also refuses any write that could overwrite
a key (conditional writes enforced), so a published artifact never changes under a deployed environment.
Idempotent: a second run converges the settings of buckets carrying our owner tag and refuses to touch
any bucket without it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import AwsError
from hubdeploy.infra import aws, naming
from hubdeploy.settings import ARTIFACT_BUCKET_VAR, STATE_BUCKET_VAR

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

# Old Terraform state versions are history worth keeping for a while, not forever.
STATE_NONCURRENT_DAYS = 90
ABORT_INCOMPLETE_UPLOAD_DAYS = 1


@dataclass(frozen=True)
class BucketReport:
    name: str
    purpose: str
    created: bool


@dataclass(frozen=True)
class BootstrapResult:
    region: str
    state: BucketReport
    artifacts: BucketReport

    def backend_config(self) -> list[str]:
        """The `-backend-config` flags of `terraform init` shared by every env (each adds its own key)."""
        return [f"-backend-config=bucket={self.state.name}", f"-backend-config=region={self.region}"]


TLS_ONLY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
# Artifacts are immutable, whoever asks: S3 refuses a PutObject or CompleteMultipartUpload (the operations that
# create an object, s3:ObjectCreationOperation = true) without If-None-Match, so no key is ever overwritten, not
# even by a role allowed s3:PutObject (a pull request's plan role publishes). CreateMultipartUpload and
# UploadPart accept no conditional header and stay allowed; CopyObject into the bucket is refused (nothing copies).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
NO_OVERWRITES = {
    "Sid": "DenyWritesWithoutIfNoneMatch",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:PutObject",
    "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
}


def bucket_policy(bucket: str, *, purpose: str) -> str:
    """The bucket's policy: TLS only; the artifact bucket also refuses every write that could overwrite a key.

    The state bucket has no such rule: Terraform's S3 backend overwrites its state object on every apply.
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, Any]] = [{**TLS_ONLY, "Resource": [bucket_arn, f"{bucket_arn}/*"]}]
    if purpose == "artifacts":
        statements.append({**NO_OVERWRITES, "Resource": f"{bucket_arn}/*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def tls_only_policy(bucket: str) -> str:
    """Deny every request that does not use TLS (the state bucket's policy)."""
    return bucket_policy(bucket, purpose="state")


def _tags(s3: Any, bucket: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if aws.is_code(exc, "NoSuchTagSet", "NoSuchTagSetError"):
            return {}
        raise
    return {t["Key"]: t["Value"] for t in tag_set}


def _exists(s3: Any, bucket: str) -> bool:
    """True if the bucket exists and we can use it; AwsError if it exists but belongs to someone else."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if aws.is_code(exc, "404", "NoSuchBucket", "NotFound"):
            return False
        if aws.is_code(exc, "403", "AccessDenied"):
            raise AwsError(
                f"bucket {bucket} exists but is not accessible to these credentials (another account's?)",
                hint=f"bucket names are global: choose another with {STATE_BUCKET_VAR}/{ARTIFACT_BUCKET_VAR}",
            ) from None
        raise


def ensure_bucket(s3: Any, bucket: str, *, region: str, purpose: str) -> BucketReport:
    """Create `bucket` (or adopt one we created before) and converge its hardening."""
    owner_key, owner_value = naming.OWNER_TAG
    created = False
    with aws.aws_errors(f"set up the {purpose} bucket", bucket=bucket):
        if _exists(s3, bucket):
            if _tags(s3, bucket).get(owner_key) != owner_value:
                raise AwsError(
                    f"bucket {bucket} exists but was not created by hubdeploy (no {owner_key}={owner_value} tag)",
                    hint=f"leave it alone and pick another name ({STATE_BUCKET_VAR}/"
                    f"{ARTIFACT_BUCKET_VAR}), or tag it if it really is yours",
                )
            log.info("%s bucket %s exists and is ours: checking its settings", purpose, bucket)
        else:
            kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
            if region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
            created = True
            # Tag first: if a later step fails, a re-run still recognises the bucket as ours.
            s3.put_bucket_tagging(
                Bucket=bucket,
                Tagging={
                    "TagSet": [{"Key": owner_key, "Value": owner_value}, {"Key": "hubdeploy:purpose", "Value": purpose}]
                },
            )
            log.info("created %s bucket %s", purpose, bucket)
        _harden(s3, bucket, purpose=purpose)
    return BucketReport(name=bucket, purpose=purpose, created=created)


def _harden(s3: Any, bucket: str, *, purpose: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # on every run, so a bucket bootstrapped before a rule existed gets it (idempotent)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, purpose=purpose))
    rules: list[dict[str, Any]] = [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
        }
    ]
    if purpose == "state":
        rules.append(
            {
                "ID": "expire-old-state-versions",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": STATE_NONCURRENT_DAYS},
            }
        )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def bootstrap(
    settings: Settings, *, state_bucket: str | None = None, artifact_bucket: str | None = None
) -> BootstrapResult:
    """Ensure both buckets exist, ours and hardened. Names default to naming.* for this account/region."""
    if state_bucket is None or artifact_bucket is None:
        account = aws.account_id(settings)
        state_bucket = state_bucket or naming.state_bucket_name(settings, account)
        artifact_bucket = artifact_bucket or naming.artifact_bucket_name(settings, account)
    s3 = aws.client("s3", settings)
    # The same policy goes on in the emulator: its shim (emulator/shims.py) stands in for AWS's HTTPS endpoints.
    state = ensure_bucket(s3, state_bucket, region=settings.aws_region, purpose="state")
    artifacts = ensure_bucket(s3, artifact_bucket, region=settings.aws_region, purpose="artifacts")
    return BootstrapResult(region=settings.aws_region, state=state, artifacts=artifacts)
