"""S3 writes that never overwrite: conditional put and multipart complete (`If-None-Match: *`), single and
multipart uploads where every part carries its SHA-256 checksum (S3 verifies it), aborted on any failure so
no partial object is ever visible. Stores without conditional writes get a HEAD-then-put fallback.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

import base64
import hashlib
import logging
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import KeyExists
from hubdeploy.infra import aws
from hubdeploy.log import ByteProgress

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# 16 MiB parts: ~28 parts for BERT-base, far below S3's 10,000-part limit even for 100 GB models.
DEFAULT_THRESHOLD = 64 * MiB
DEFAULT_CHUNK = 16 * MiB
DEFAULT_CONCURRENCY = 8


def default_transfer_config() -> TransferConfig:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=DEFAULT_THRESHOLD, multipart_chunksize=DEFAULT_CHUNK, max_concurrency=DEFAULT_CONCURRENCY
    )


def b64_digest(hex_digest: str) -> str:
    """Base64 of a hex sha256 (what S3 checksums and Lambda's source_code_hash use)."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def put_if_absent(s3: Any, **kwargs: Any) -> dict[str, Any]:
    """PutObject with If-None-Match: *; raises KeyExists if the key is taken."""
    return _if_absent(s3, s3.put_object, **kwargs)


def complete_if_absent(s3: Any, **kwargs: Any) -> dict[str, Any]:
    """CompleteMultipartUpload with If-None-Match: *; raises KeyExists if the key is taken."""
    return _if_absent(s3, s3.complete_multipart_upload, **kwargs)


def _if_absent(s3: Any, write: Any, **kwargs: Any) -> dict[str, Any]:
    """Run `write` (an S3 call that creates kwargs["Key"]) only if the key does not exist yet."""
    from botocore.exceptions import ClientError

    try:
        return write(IfNoneMatch="*", **kwargs)
    except ClientError as exc:
        if aws.is_code(exc, "PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
            raise KeyExists(kwargs["Key"]) from None
        if not aws.is_code(exc, "NotImplemented", "501"):
            raise
    # Some S3-compatible stores lack conditional writes: a HEAD first is racy but better than overwriting.
    log.warning("this S3 endpoint does not support conditional writes: checking for the key first instead")
    if head_object(s3, kwargs["Bucket"], kwargs["Key"]) is not None:
        raise KeyExists(kwargs["Key"])
    return write(**kwargs)


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if aws.is_code(exc, "404", "NoSuchKey", "NotFound"):
            return None
        raise


def upload_single(
    s3: Any, *, bucket: str, key: str, path: Path, sha256: str, extra: dict[str, Any], progress: ByteProgress
) -> int:
    with path.open("rb") as body:
        put_if_absent(
            s3,
            Bucket=bucket,
            Key=key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=b64_digest(sha256),
            **extra,
        )
    progress(path.stat().st_size)
    return path.stat().st_size


def upload_multipart(
    s3: Any,
    *,
    bucket: str,
    key: str,
    path: Path,
    extra: dict[str, Any],
    config: TransferConfig,
    progress: ByteProgress,
) -> int:
    """Parallel parts, each checksummed; abort on any failure so no partial object is left."""
    size = path.stat().st_size
    chunk = max(int(config.multipart_chunksize), 5 * MiB)  # S3's minimum part size
    offsets = list(range(0, size, chunk)) or [0]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **extra)["UploadId"]
    log.debug("multipart upload %s of %s: %d parts", upload_id, key, len(offsets))

    def send(number: int, offset: int) -> dict[str, Any]:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(chunk)
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        response = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, ChecksumSHA256=checksum
        )
        progress(len(data))
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    try:
        with ThreadPoolExecutor(max_workers=max(1, int(config.max_concurrency))) as pool:
            futures = [pool.submit(send, i + 1, off) for i, off in enumerate(offsets)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                for future in futures:
                    future.cancel()
                raise failed.exception()  # type: ignore[misc]
            parts = [f.result() for f in futures]
        complete_if_absent(s3, Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            log.info("aborted the multipart upload of %s: nothing partial is left", key)
        except Exception:  # the original failure matters more; the lifecycle rule reaps what is left
            log.warning("could not abort multipart upload %s of %s", upload_id, key, exc_info=True)
        raise
    return size
