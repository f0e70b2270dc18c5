"""The manifest: where a model came from and the sha256 of every file, shipped inside model.tar.gz.

It holds no timestamps or local paths, so the same inputs give the same bytes (and the same archive).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import ArtifactError
from hubdeploy.fsutil import CHUNK, atomic_write_bytes

if TYPE_CHECKING:
    from hubdeploy.artifacts.digests import DigestRecord

MANIFEST_NAME = "hubdeploy-manifest.json"  # a name no model repo uses, so it never shadows a model file
FORMAT_VERSION = 1
SOURCE_HUB = "hub"
SOURCE_LOCAL = "local"  # built from --model-dir: not traceable to a Hub commit


@dataclass(frozen=True)
class FileEntry:
    """One file: its path inside the artifact, size and sha256."""

    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, str | int]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """What a model artifact holds and where it came from."""

    hub_model_id: str
    hub_revision: str | None  # the commit SHA the files came from; None for a local folder
    source: str = SOURCE_HUB
    files: tuple[FileEntry, ...] = field(default_factory=tuple)
    # How pickled weights became model.safetensors (from, its sha256, the scanner), when they did (weights.py).
    # Absent otherwise, so an archive of safetensors weights has the same bytes as before conversion existed.
    converted: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "hub_model_id": self.hub_model_id,
            "hub_revision": self.hub_revision,
            "source": self.source,
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.path)],
        }
        if self.converted:
            data["converted"] = dict(self.converted)
        return data

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, fixed indentation, trailing newline."""
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: dict[str, Any], *, where: str = "manifest") -> Manifest:
        try:
            return cls(
                hub_model_id=str(data["hub_model_id"]),
                hub_revision=data.get("hub_revision"),
                source=str(data.get("source", SOURCE_HUB)),
                files=tuple(FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in data["files"]),
                converted={str(k): str(v) for k, v in data["converted"].items()} if data.get("converted") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{where} is not a hubdeploy manifest ({exc})", hint="rebuild the artifacts") from None

    def write(self, path: Path) -> Path:
        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"no manifest at {path}", hint="run hubdeploy build first") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"cannot read manifest {path} ({exc})", hint="rebuild the artifacts") from None
        return cls.from_json(data, where=str(path))


def hash_file(path: Path, record: DigestRecord | None = None) -> FileEntry:
    """sha256 and size of one file, streamed (memory stays flat); `record` supplies the digest of a file unchanged
    since it was last hashed, and learns the digest of one it had to hash."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if record is not None and (known := record.known(path, st)) is not None:
                return FileEntry(path=path.name, size=st.st_size, sha256=known)
            started = record.started() if record is not None else 0
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ArtifactError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check it exists and is readable"
        ) from None
    if record is not None and size == st.st_size:
        record.remember(path, st, digest.hexdigest(), hashed_at_ns=started)
    return FileEntry(path=path.name, size=size, sha256=digest.hexdigest())
