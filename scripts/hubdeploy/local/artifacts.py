"""Download a deployed model.tar.gz, verify its sha256, unpack it into a cache folder keyed by digest.

The cache makes a restart cheap and keeps two revisions side by side; a folder is only ever renamed
into place after its archive matched the expected digest, so a present folder is a verified one.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hubdeploy.errors import ArtifactError
from hubdeploy.fsutil import CHUNK
from hubdeploy.log import human_bytes

log = logging.getLogger(__name__)


def cached_model_dir(cache_dir: Path, sha256: str) -> Path:
    """Where the unpacked artifact with this digest lives."""
    return cache_dir / sha256


def fetch_model_artifact(s3: Any, *, bucket: str, key: str, sha256: str, cache_dir: Path) -> Path:
    """Return the unpacked folder of s3://bucket/key, downloading and verifying it unless cached.

    Raises:
        ArtifactError: the download failed, the bytes do not hash to `sha256` ("artifact corrupt"),
            or the archive is unreadable / has unsafe members.
    """
    target = cached_model_dir(cache_dir, sha256)
    if target.is_dir():
        log.debug("artifact %s already unpacked at %s", sha256[:12], target)
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    url = f"s3://{bucket}/{key}"
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
        archive = Path(tmp) / "model.tar.gz"
        digest = hashlib.sha256()
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            with archive.open("wb") as fh:
                while chunk := body.read(CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
        except Exception as exc:  # botocore raises many types; all mean "could not download"
            raise ArtifactError(
                f"runtime: cannot download {url}: {exc}", hint="check that `hubdeploy publish` uploaded it"
            ) from exc
        actual = digest.hexdigest()
        if actual != sha256:
            raise ArtifactError(
                f"runtime: artifact corrupt: {url} has sha256 {actual[:12]}..., the deployment expects "
                f"{sha256[:12]}... (checksum mismatch)",
                hint="re-publish and re-apply it: `hubdeploy local down && hubdeploy local up`",
            )
        log.info("runtime: verified %s (%s, sha256 %s)", url, human_bytes(archive.stat().st_size), sha256[:12])
        unpacked = Path(tmp) / "model"
        unpack_archive(archive, unpacked, label=url)
        shutil.move(str(unpacked), target)  # same filesystem: an atomic rename
    return target


def unpack_archive(archive: Path, dest: Path, *, label: str) -> None:
    """Extract a tar.gz refusing absolute paths, `..`, links out of the folder and devices."""
    dest.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(
            f"runtime: cannot unpack {label}: {exc}", hint="rebuild and re-publish it (`hubdeploy build`)"
        ) from exc
