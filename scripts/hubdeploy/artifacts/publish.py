"""Upload built artifacts to S3 under timestamped keys, idempotently, never overwriting.

- Idempotent: `index/sha256/<hex>.json` records where bytes with that digest live. Publishing the
  same bytes again finds the entry, checks the object is still there, and uploads nothing; so a PR's
  build and the merge's build resolve to the same keys.
- Never overwrites, never deletes: objects and index entries are written conditionally
  (`artifacts.s3objects`), and the artifact bucket refuses any other write (`hubdeploy bootstrap`), so
  the publishing roles need neither an overwrite nor s3:DeleteObject. An entry whose object an
  administrator deleted is superseded by the next generation (`<hex>.1.json`, ...), never replaced; a
  publish that lost a race to the same bytes leaves its copy unreferenced. Large files go multipart with
  checksummed parts, aborted on any failure (a re-run starts afresh; the bucket's lifecycle rule reaps
  uploads of a process killed outright).
- Objects are tagged and carry metadata with the hub id, revision, git commit and full sha256; the index
  entry records the commit that first published the bytes. The commit never reaches Terraform (the
  artifacts tfvars hold only keys and digests), so a commit that changes no artifact plans "No changes".
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from hubdeploy.artifacts.archive import LAMBDA_ARCHIVE, MODEL_ARCHIVE
from hubdeploy.artifacts.manifest import MANIFEST_NAME, SOURCE_LOCAL, Manifest
from hubdeploy.artifacts.s3objects import (
    b64_digest,
    default_transfer_config,
    head_object,
    put_if_absent,
    upload_multipart,
    upload_single,
)
from hubdeploy.envs import ModelPin, PublishedArtifacts, is_commit_sha, read_pin, write_artifacts
from hubdeploy.errors import ArtifactError, AwsError, KeyExists
from hubdeploy.fsutil import sha256_file
from hubdeploy.infra import aws, naming
from hubdeploy.log import ByteProgress

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

INDEX_PREFIX = "index/sha256"
LAMBDA_PREFIX = "lambda"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H-%M-%SZ"
TAG_VALUE_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")


@dataclass(frozen=True)
class Uploaded:
    """One artifact in S3."""

    name: str
    bucket: str
    key: str
    sha256: str
    size: int
    bytes_uploaded: int  # 0 when the same bytes were already published
    # the commit that first published these bytes (its index entry); None for entries written before it was kept
    first_commit: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def timestamp(now: datetime | None = None) -> str:
    """`2026-11-25T07-30-00Z`: sorts by time, and has no ':' (awkward in URLs and shells)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def artifact_key(prefix: str, name: str, sha256: str, *, now: datetime | None = None) -> str:
    """`<prefix>/<UTC time>-<sha256[:12]>/<name>`."""
    return f"{prefix}/{timestamp(now)}-{sha256[:12]}/{name}"


def index_key(sha256: str, generation: int = 0) -> str:
    """The index entry of a digest; generation n > 0 supersedes entries 0..n-1 whose objects are gone."""
    return f"{INDEX_PREFIX}/{sha256}.json" if generation == 0 else f"{INDEX_PREFIX}/{sha256}.{generation}.json"


def tagging(tags: dict[str, str]) -> str:
    """URL-encoded S3 tag set; characters S3 refuses in tag values become '_'."""
    return urlencode({k: TAG_VALUE_UNSAFE.sub("_", v)[:256] for k, v in tags.items()})


def git_commit(repo_root: Path, settings: Settings) -> str:
    """GITHUB_SHA in Actions, else `git rev-parse HEAD` (suffixed `-dirty` with uncommitted changes)."""
    if settings.git_commit:
        return settings.git_commit
    try:
        head = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo_root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        log.warning("%s is not a git checkout: the artifacts are tagged git_commit=unknown", repo_root)
        return "unknown"
    return f"{head}-dirty" if dirty else head


def read_index(s3: Any, bucket: str, sha256: str, generation: int = 0) -> dict[str, Any] | None:
    """The index entry for a digest (of one generation), or None."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=index_key(sha256, generation))["Body"].read()
    except ClientError as exc:
        if aws.is_code(exc, "NoSuchKey", "404"):
            return None
        raise
    try:
        entry = json.loads(body)
    except json.JSONDecodeError:
        log.warning("index entry %s is not JSON; ignoring it", index_key(sha256, generation))
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("key"), str) else None


def publish_file(
    s3: Any,
    *,
    bucket: str,
    path: Path,
    prefix: str,
    tags: dict[str, str],
    config: TransferConfig | None = None,
    now: datetime | None = None,
    content_type: str = "application/octet-stream",
    commit: str | None = None,
) -> Uploaded:
    """Upload `path` under `<prefix>/<time>-<sha12>/<name>` unless the same bytes are already published.

    `commit` is recorded in a new index entry (provenance: the first publisher of these bytes); an existing
    entry keeps its own, which the result carries as `first_commit`.

    Raises:
        AwsError: S3 refused (missing bucket, access denied, ...).
    """
    config = config or default_transfer_config()
    name = path.name
    size = path.stat().st_size
    sha256 = sha256_file(path)
    generation = 0
    with aws.aws_errors("look up published artifacts", bucket=bucket, key=index_key(sha256)):
        while (existing := read_index(s3, bucket, sha256, generation)) is not None:
            head = head_object(s3, bucket, existing["key"])
            if head is not None and head.get("Metadata", {}).get("sha256") == sha256:
                log.info("%s already published as s3://%s/%s: nothing to upload", name, bucket, existing["key"])
                first = existing.get("git_commit")
                return Uploaded(
                    name, bucket, existing["key"], sha256, size, bytes_uploaded=0, first_commit=_text_or_none(first)
                )
            log.warning("index entry %s points to a missing object; publishing again", index_key(sha256, generation))
            generation += 1

    key = artifact_key(prefix, name, sha256, now=now)
    extra = {
        "Metadata": {"sha256": sha256, **{k.split(":")[-1]: v for k, v in tags.items()}},
        "Tagging": tagging({**tags, "hubdeploy:sha256": sha256}),
        "ContentType": content_type,
    }
    progress = ByteProgress(f"upload {name}", size, logger=log)
    sent = 0
    with aws.aws_errors("upload", bucket=bucket, key=key):
        try:
            if size >= int(config.multipart_threshold):
                sent = upload_multipart(
                    s3, bucket=bucket, key=key, path=path, extra=extra, config=config, progress=progress
                )
            else:
                sent = upload_single(
                    s3, bucket=bucket, key=key, path=path, sha256=sha256, extra=extra, progress=progress
                )
        except KeyExists:
            # Same digest, same second: another publisher got there first. Its bytes are ours.
            head = head_object(s3, bucket, key)
            if head is None or head.get("Metadata", {}).get("sha256") != sha256:
                raise AwsError(
                    f"s3://{bucket}/{key} exists with other contents", hint="re-run publish (a new key is chosen)"
                ) from None
        return _record(
            s3,
            bucket=bucket,
            key=key,
            name=name,
            sha256=sha256,
            size=size,
            sent=sent,
            generation=generation,
            commit=commit,
        )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _record(
    s3: Any,
    *,
    bucket: str,
    key: str,
    name: str,
    sha256: str,
    size: int,
    sent: int,
    generation: int,
    commit: str | None,
) -> Uploaded:
    """Write the index entry (a new one, never over another); if a concurrent publisher of the same bytes wrote
    one first, use its key and leave ours unreferenced (same bytes; deleting it would need s3:DeleteObject)."""
    entry: dict[str, Any] = {"sha256": sha256, "bucket": bucket, "key": key, "size": size, "name": name}
    if commit:
        entry["git_commit"] = commit
    body = (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()
    index = index_key(sha256, generation)
    try:
        put_if_absent(s3, Bucket=bucket, Key=index, Body=body, ContentType="application/json")
    except KeyExists:
        winner = read_index(s3, bucket, sha256, generation)
        if winner is None or winner["key"] == key:
            first = winner.get("git_commit") if winner else commit
            return Uploaded(name, bucket, key, sha256, size, bytes_uploaded=sent, first_commit=_text_or_none(first))
        log.info(
            "a concurrent publish of the same bytes won: using s3://%s/%s (s3://%s/%s stays unreferenced)",
            bucket,
            winner["key"],
            bucket,
            key,
        )
        first = _text_or_none(winner.get("git_commit"))
        return Uploaded(name, bucket, winner["key"], sha256, size, bytes_uploaded=sent, first_commit=first)
    return Uploaded(name, bucket, key, sha256, size, bytes_uploaded=sent, first_commit=commit or None)


# ---------------------------------------------------------------------------------------------------------------------
# The command's work


@dataclass(frozen=True)
class PublishResult:
    model: Uploaded
    lambda_zip: Uploaded
    artifacts: PublishedArtifacts
    artifacts_file: Path
    commit: str  # this publish's commit (S3 tags of new objects); `model.first_commit` is the bytes' first

    @property
    def bytes_uploaded(self) -> int:
        return self.model.bytes_uploaded + self.lambda_zip.bytes_uploaded


def check_build_matches_pin(manifest: Manifest, pin: ModelPin, env: str) -> None:
    """Refuse to publish for `env` what was not built from `env`'s pin."""
    if manifest.hub_model_id != pin.hub_model_id:
        raise ArtifactError(
            f"the build is of {manifest.hub_model_id} but {env} pins {pin.hub_model_id}",
            hint=f"run: hubdeploy build --env {env}",
        )
    if manifest.source == SOURCE_LOCAL and is_commit_sha(pin.hub_revision):
        raise ArtifactError(
            f"the build comes from a local folder (--model-dir), but {env} pins a Hub commit",
            hint=f"build from the pin: hubdeploy build --env {env}",
        )
    if is_commit_sha(pin.hub_revision) and manifest.hub_revision != pin.hub_revision:
        raise ArtifactError(
            f"the build is of revision {manifest.hub_revision} but {env} pins {pin.hub_revision}",
            hint=f"run: hubdeploy build --env {env}",
        )


def ensure_bucket_exists(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    with aws.aws_errors("use the artifact bucket", bucket=bucket):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if aws.is_code(exc, "404", "NoSuchBucket", "NotFound"):
                raise AwsError(
                    f"artifact bucket {bucket} does not exist",
                    hint="run `hubdeploy bootstrap --env <env>` first, or pass the right --bucket",
                ) from None
            raise


def publish(
    settings: Settings,
    *,
    env: str,
    artifacts_dir: Path,
    bucket: str | None = None,
    commit: str | None = None,
    config: TransferConfig | None = None,
    now: datetime | None = None,
    s3_factory: Callable[[], Any] | None = None,
) -> PublishResult:
    """Upload the build in `artifacts_dir` for `env` and write the env's artifacts tfvars file."""
    pin = read_pin(settings.repo_root, env)
    model_path, lambda_path = artifacts_dir / MODEL_ARCHIVE, artifacts_dir / LAMBDA_ARCHIVE
    for path in (model_path, lambda_path):
        if not path.is_file():
            raise ArtifactError(f"no {path.name} in {artifacts_dir}", hint=f"run: hubdeploy build --env {env}")
    manifest = Manifest.read(artifacts_dir / MANIFEST_NAME)
    check_build_matches_pin(manifest, pin, env)
    if bucket is None:
        bucket = naming.artifact_bucket_name(settings, aws.account_id(settings))
    s3 = s3_factory() if s3_factory else aws.client("s3", settings)
    ensure_bucket_exists(s3, bucket)
    commit = commit or git_commit(settings.repo_root, settings)
    tags = {
        "hubdeploy:hub-model-id": manifest.hub_model_id,
        "hubdeploy:hub-revision": manifest.hub_revision or "local",
        "hubdeploy:git-commit": commit,
    }
    now = now or datetime.now(UTC)  # one timestamp for both keys of this publish
    common: dict[str, Any] = {"bucket": bucket, "tags": tags, "config": config, "now": now, "commit": commit}
    model = publish_file(s3, path=model_path, prefix=pin.slug, content_type="application/gzip", **common)
    lambda_zip = publish_file(s3, path=lambda_path, prefix=LAMBDA_PREFIX, content_type="application/zip", **common)
    artifacts = PublishedArtifacts(
        artifact_bucket=bucket,
        model_data_url=model.url,
        model_artifact_sha256=model.sha256,
        lambda_s3_key=lambda_zip.key,
        lambda_artifact_sha256=lambda_zip.sha256,
        lambda_source_code_hash=b64_digest(lambda_zip.sha256),
    )
    path = write_artifacts(settings.repo_root, env, artifacts)
    return PublishResult(model=model, lambda_zip=lambda_zip, artifacts=artifacts, artifacts_file=path, commit=commit)
