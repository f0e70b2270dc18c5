"""The Hugging Face Hub at the edge: resolve a ref to a commit, list and download the serving files.

Where to go comes from Settings (HF_TOKEN, HF_ENDPOINT, HF_HUB_CACHE, HF_HUB_OFFLINE), passed explicitly to
every huggingface_hub call, not read by it at import, so one process can use Hub, test server and cache.
With HF_HUB_OFFLINE=1 nothing goes to the network: refs, file lists and files come from the cache.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubdeploy.artifacts.facts import FROM_CACHE, FROM_HUB, ModelFacts, licence_from_tags, normalise_licence
from hubdeploy.artifacts.manifest import SOURCE_HUB, FileEntry, Manifest, hash_file
from hubdeploy.artifacts.modelfiles import ServingFiles, check_config, check_index, select_serving_files
from hubdeploy.envs import ModelPin, is_commit_sha
from hubdeploy.errors import ArtifactError, HubError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from hubdeploy.artifacts.digests import DigestRecord
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

OFFLINE_HINT = "check the network (and HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to work from the local HF cache"


def cache_repo_folder(cache_dir: Path, model_id: str) -> Path:
    """`models--owner--name` in the HF cache at `cache_dir` (huggingface_hub's layout)."""
    return cache_dir / ("models--" + model_id.replace("/", "--"))


def repo_cache_dir(settings: Settings, model_id: str) -> Path:
    """`models--owner--name` in the settings' HF cache."""
    return cache_repo_folder(settings.hf_cache_dir, model_id)


def hf_api(settings: Settings) -> HfApi:
    from huggingface_hub import HfApi

    return HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token)


@contextmanager
def hub_errors(settings: Settings, model_id: str, revision: str) -> Iterator[None]:
    """Turn huggingface_hub/httpx failures into one-line HubErrors naming the repo and revision."""
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        yield
    except RevisionNotFoundError:
        raise HubError(
            f"revision {revision!r} not found in {model_id} on the Hub",
            hint=f"use a branch, tag or commit listed at {settings.hf_endpoint}/{model_id}/commits/main",
        ) from None
    except GatedRepoError:
        raise HubError(
            f"{model_id} is gated", hint="accept its terms on the Hub and set HF_TOKEN to a token with access"
        ) from None
    except RepositoryNotFoundError:
        raise HubError(
            f"model {model_id} not found on the Hub (or it is private)",
            hint="check hub_model_id; for a private repo set HF_TOKEN",
        ) from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise HubError(
            f"{model_id}@{revision} is not in the local HF cache ({settings.hf_cache_dir}) and the Hub is not used",
            hint="run hubdeploy fetch once with network access (HF_HUB_OFFLINE unset), or fix HF_HUB_CACHE",
        ) from None
    except EntryNotFoundError:
        raise HubError(
            f"the Hub lists a file of {model_id}@{revision} it then cannot serve",
            hint="retry later; if it persists the repository is inconsistent: pin another revision",
        ) from None
    except (httpx2.TransportError, ConnectionError) as exc:
        raise HubError(
            f"cannot reach the Hugging Face Hub at {settings.hf_endpoint} ({exc})", hint=OFFLINE_HINT
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise HubError(
            f"the Hub answered HTTP {status} for {model_id}@{revision}",
            hint="retry later; if it persists check HF_TOKEN and the repository settings",
        ) from None


@dataclass(frozen=True)
class Resolved:
    """A revision as the Hub (or the cache, offline) knows it."""

    model_id: str
    requested: str
    sha: str
    files: tuple[str, ...]  # every file name at that commit (offline: the ones in the cache)
    from_cache: bool


def resolve(model_id: str, revision: str, *, settings: Settings) -> Resolved:
    """Resolve `revision` (branch, tag or commit) of `model_id` to its commit SHA and file list.

    Offline (HF_HUB_OFFLINE=1) the answer comes from the cache's refs and snapshots; it may be older
    than what the Hub serves now, so callers warn about it.
    """
    if settings.hf_offline:
        return _resolve_from_cache(settings, model_id, revision)
    with hub_errors(settings, model_id, revision):
        info = hf_api(settings).model_info(model_id, revision=revision)
    if not info.sha:
        raise HubError(f"the Hub returned no commit for {model_id}@{revision}", hint="retry; then report it")
    files = tuple(s.rfilename for s in (info.siblings or []))
    return Resolved(model_id=model_id, requested=revision, sha=info.sha, files=files, from_cache=False)


def _resolve_from_cache(settings: Settings, model_id: str, revision: str) -> Resolved:
    repo = repo_cache_dir(settings, model_id)
    sha: str | None = revision if is_commit_sha(revision) else None
    ref = repo / "refs" / revision
    if sha is None and ref.is_file():
        sha = ref.read_text().strip()
    snapshot = repo / "snapshots" / sha if sha else None
    if snapshot is None or not snapshot.is_dir():
        raise HubError(
            f"{model_id}@{revision} is not in the local HF cache ({settings.hf_cache_dir}) and HF_HUB_OFFLINE=1",
            hint="run hubdeploy fetch once with network access (HF_HUB_OFFLINE unset), or fix HF_HUB_CACHE",
        )
    # A dangling link (blob deleted) still names a file of the revision; fetch reports it as missing.
    files = tuple(sorted(p.name for p in snapshot.iterdir() if p.exists() or p.is_symlink()))
    return Resolved(model_id=model_id, requested=revision, sha=snapshot.name, files=files, from_cache=True)


@dataclass(frozen=True)
class Fetched:
    """The serving files of a pinned revision, in the HF cache."""

    snapshot_dir: Path
    files: ServingFiles
    manifest: Manifest
    resolved: Resolved


def fetch(pin: ModelPin, *, settings: Settings, record: DigestRecord | None = None) -> Fetched:
    """Download exactly the serving files of `pin` into the HF cache and hash them (those `record` knows unchanged
    are not hashed again).

    Raises:
        HubError: the Hub is unreachable or lacks the repo/revision (or, offline, the cache does).
        ArtifactError: the revision lacks config/tokenizer/weights, or a cached file is corrupt.
    """
    from huggingface_hub import snapshot_download

    resolved = resolve(pin.hub_model_id, pin.hub_revision, settings=settings)
    where = f"{pin.hub_model_id}@{resolved.sha[:12]}" + (" (local HF cache)" if resolved.from_cache else "")
    try:
        files = select_serving_files(resolved.files, where=where)
    except ArtifactError as exc:
        if not resolved.from_cache:
            raise
        raise ArtifactError(
            exc.message, hint="the cache may hold only part of this revision: run hubdeploy fetch with network access"
        ) from None
    log.info("fetching %s@%s: %s", pin.hub_model_id, resolved.sha, ", ".join(files.all))
    with hub_errors(settings, pin.hub_model_id, resolved.sha):
        folder = snapshot_download(
            pin.hub_model_id,
            revision=resolved.sha,  # the commit, never the ref: what we listed is what we download
            allow_patterns=list(files.all),
            cache_dir=str(settings.hf_cache_dir),
            token=settings.hf_token,
            local_files_only=settings.hf_offline,
            endpoint=settings.hf_endpoint,
        )
    snapshot = Path(folder)
    check_config(snapshot / files.config)
    check_index(snapshot, files)
    entries = tuple(_hash_cached(snapshot, name, record) for name in files.all)
    manifest = Manifest(hub_model_id=pin.hub_model_id, hub_revision=resolved.sha, source=SOURCE_HUB, files=entries)
    return Fetched(snapshot_dir=snapshot, files=files, manifest=manifest, resolved=resolved)


def revision_facts(model_id: str, sha: str, *, settings: Settings) -> ModelFacts:
    """The Hub's facts about commit `sha`: licence, gated, and the serving files' sizes and sha256.

    Online, one `model_info(files_metadata=True)` call: each sibling then carries its size and, for a Git LFS file,
    `lfs.sha256` (huggingface_hub RepoSibling / BlobLfsInfo,
    https://huggingface.co/docs/huggingface_hub/package_reference/hf_api#huggingface_hub.hf_api.RepoSibling).
    A file not in LFS has only its git blob id (sha1), so those (config, tokenizer: a few KB) are downloaded into
    the HF cache, where the build will find them, and hashed. Offline (HF_HUB_OFFLINE=1) every serving file is
    hashed from the cache; the licence then comes only from a cached README.md, and gated is unknown.
    """
    where = f"{model_id}@{sha[:12]}"
    if settings.hf_offline:
        snapshot = repo_cache_dir(settings, model_id) / "snapshots" / sha
        serving = select_serving_files(_resolve_from_cache(settings, model_id, sha).files, where=where)
        entries = tuple(_hash_cached(snapshot, name) for name in serving.all)
        readme = snapshot / "README.md"
        licence = _card_licence(readme) if readme.is_file() else None
        return ModelFacts(model_id, sha, licence=licence, gated=None, files=entries, recorded_from=FROM_CACHE)
    with hub_errors(settings, model_id, sha):
        info = hf_api(settings).model_info(model_id, revision=sha, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    serving = select_serving_files(siblings, where=where)
    files = []
    for name in serving.all:
        lfs = siblings[name].lfs
        if lfs is not None and lfs.sha256:
            files.append(FileEntry(path=name, size=int(lfs.size), sha256=str(lfs.sha256)))
        else:
            files.append(_download_and_hash(settings, model_id, sha, name))
    card = getattr(info.card_data, "license", None) if info.card_data is not None else None
    licence = normalise_licence(card) or licence_from_tags(info.tags)
    gated = "no" if info.gated is False else (str(info.gated) if info.gated else None)
    return ModelFacts(model_id, sha, licence=licence, gated=gated, files=tuple(files), recorded_from=FROM_HUB)


def _download_and_hash(settings: Settings, model_id: str, sha: str, name: str) -> FileEntry:
    from huggingface_hub import hf_hub_download

    with hub_errors(settings, model_id, sha):
        path = hf_hub_download(
            model_id,
            name,
            revision=sha,
            cache_dir=str(settings.hf_cache_dir),
            token=settings.hf_token,
            endpoint=settings.hf_endpoint,
        )
    return hash_file(Path(path))


def _card_licence(readme: Path) -> str | None:
    """`license:` from a model card's YAML front matter (huggingface_hub's own parser)."""
    from huggingface_hub.repocard import metadata_load

    try:
        metadata = metadata_load(readme) or {}
    except Exception:  # a card the parser cannot read declares nothing we can rely on
        log.warning("could not parse the model card %s; its licence is unknown", readme)
        return None
    return normalise_licence(metadata.get("license"))


def _hash_cached(snapshot: Path, name: str, record: DigestRecord | None = None) -> FileEntry:
    """Hash one cached file; an LFS blob is named by its sha256, so a mismatch means a corrupt cache."""
    path = snapshot / name
    if not path.exists():
        raise ArtifactError(
            f"{name} is missing from the HF cache snapshot {snapshot}",
            hint="run hubdeploy fetch with network access (HF_HUB_OFFLINE unset) to download it",
        )
    entry = hash_file(path, record)
    blob = Path(os.path.realpath(path)).name
    if len(blob) == 64 and all(c in "0123456789abcdef" for c in blob) and blob != entry.sha256:
        raise ArtifactError(
            f"cached {name} is corrupt (sha256 {entry.sha256[:12]}..., expected {blob[:12]}...)",
            hint=f"delete {os.path.realpath(path)} and run hubdeploy fetch again",
        )
    return entry
