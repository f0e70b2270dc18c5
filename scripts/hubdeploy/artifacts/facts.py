"""The Hub's facts about a pinned revision, recorded by `hubdeploy pin` next to the pin: licence, gated or not,
and the name, size and sha256 of every serving file.

They live in `terraform/envs/<env>/model.facts.json`, not in the pin file: Terraform reads the pin file as
variables and warns on undeclared ones, and these are for hubdeploy only (the licence gate, the build's digest
check, the PR comment). Facts are about one commit: facts whose revision is not the pin's are ignored, so a pin
written without `hubdeploy pin` (a test, a hand edit) never borrows another revision's facts. The file is
canonical JSON without timestamps: pinning the same commit again writes the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.artifacts.manifest import FileEntry, Manifest
from hubdeploy.artifacts.modelfiles import select_serving_files
from hubdeploy.artifacts.weights import CONVERTED_NOTE
from hubdeploy.envs import ModelPin, facts_path
from hubdeploy.errors import ArtifactError, PinError
from hubdeploy.fsutil import atomic_write_bytes

FORMAT_VERSION = 1
FROM_HUB = "hub"
FROM_CACHE = "local HF cache"  # HF_HUB_OFFLINE=1: no licence unless the cached README says, gated unknown


@dataclass(frozen=True)
class ModelFacts:
    """What the Hub said about `hub_model_id@hub_revision` when it was pinned."""

    hub_model_id: str
    hub_revision: str
    licence: str | None  # the model card's `license:` (lowercase SPDX-style id), None when it declares none
    gated: str | None  # "no", "auto" or "manual"; None when not known (recorded from the cache)
    files: tuple[FileEntry, ...]  # the serving files (modelfiles.select_serving_files), sorted by name
    recorded_from: str = FROM_HUB

    def matches(self, pin: ModelPin) -> bool:
        return (self.hub_model_id, self.hub_revision) == (pin.hub_model_id, pin.hub_revision)

    @property
    def weights_format(self) -> str:
        """How the weights reach the artifact: as they are, or converted from the pickle (archive.build)."""
        serving = select_serving_files([f.path for f in self.files], where=f"{self.hub_model_id}@{self.hub_revision}")
        if serving.weights_format == "safetensors":
            return "safetensors"
        return CONVERTED_NOTE.format(source=", ".join(w for w in serving.weights if w.endswith(".bin")))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "hub_model_id": self.hub_model_id,
            "hub_revision": self.hub_revision,
            "licence": self.licence,
            "gated": self.gated,
            "recorded_from": self.recorded_from,
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.path)],
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: Any, *, where: str) -> ModelFacts:
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format') if isinstance(data, dict) else None!r}")
            return cls(
                hub_model_id=str(data["hub_model_id"]),
                hub_revision=str(data["hub_revision"]),
                licence=str(data["licence"]) if data.get("licence") else None,
                gated=str(data["gated"]) if data.get("gated") is not None else None,
                files=tuple(FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in data["files"]),
                recorded_from=str(data.get("recorded_from", FROM_HUB)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PinError(
                f"{where} is not a hubdeploy facts file ({exc})",
                hint="re-record it: hubdeploy pin --env ENV --revision <the pinned sha>",
            ) from None


def normalise_licence(value: Any) -> str | None:
    """The card's `license:` as one lowercase id; a list (rare) becomes "a or b"."""
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    if isinstance(value, list | tuple) and value:
        return " or ".join(sorted(str(v).strip().lower() for v in value))
    return None


def licence_from_tags(tags: Iterable[str] | None) -> str | None:
    """The Hub also lists the licence as a `license:<id>` tag."""
    found = sorted(t.split(":", 1)[1] for t in tags or () if isinstance(t, str) and t.startswith("license:"))
    return normalise_licence(found[0] if len(found) == 1 else found)


def read_facts(repo_root: Path, env: str) -> ModelFacts | None:
    """`env`'s recorded facts, or None when none are recorded."""
    path = facts_path(repo_root, env)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise PinError(
            f"{env}: {path} is not valid JSON ({exc})", hint=f"re-record it: hubdeploy pin --env {env}"
        ) from None
    return ModelFacts.from_json(data, where=str(path))


def facts_for(repo_root: Path, env: str, pin: ModelPin) -> ModelFacts | None:
    """The recorded facts if they are about `pin`'s revision, else None."""
    facts = read_facts(repo_root, env)
    return facts if facts is not None and facts.matches(pin) else None


def write_facts(repo_root: Path, env: str, facts: ModelFacts) -> Path:
    path = facts_path(repo_root, env)
    atomic_write_bytes(path, facts.to_bytes())
    return path


def remove_facts(repo_root: Path, env: str) -> None:
    facts_path(repo_root, env).unlink(missing_ok=True)


def verify(manifest: Manifest, facts: ModelFacts, *, shown: str) -> None:
    """Every fetched serving file must have the size and sha256 recorded at pin time.

    Raises:
        ArtifactError: naming the file whose bytes differ (or that was not recorded) and the facts file.
    """
    recorded = {f.path: f for f in facts.files}
    for entry in manifest.files:
        expected = recorded.get(entry.path)
        if expected is None:
            raise ArtifactError(
                f"{entry.path} of {facts.hub_model_id}@{facts.hub_revision[:12]} is not recorded in {shown}",
                hint="re-record the facts: hubdeploy pin --env ENV --revision <the pinned sha>",
            )
        if (expected.sha256, expected.size) != (entry.sha256, entry.size):
            raise ArtifactError(
                f"{entry.path} has sha256 {entry.sha256[:12]}... but {shown} recorded {expected.sha256[:12]}... "
                f"at pin time for {facts.hub_model_id}@{facts.hub_revision[:12]}",
                hint="the downloaded file is not the one pinned: delete it from the HF cache and fetch again; "
                "if it persists, the Hub serves other bytes for this commit: do not deploy it",
            )
