"""The steps behind `hubdeploy fetch` and `hubdeploy build`: an env's pinned revision into the HF cache,
then validated, byte-reproducible model.tar.gz and lambda.zip."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from hubdeploy.artifacts import archive, digests, facts, hub
from hubdeploy.artifacts.manifest import MANIFEST_NAME, SOURCE_LOCAL, Manifest
from hubdeploy.artifacts.modelfiles import validate_model_dir
from hubdeploy.envs import ModelPin, check_env, facts_path, read_pin

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

BUILD_DIR = ".build"


def default_out_dir(repo_root: Path, env: str) -> Path:
    """Where build writes and publish reads by default: `.build/<env>` (git-ignored)."""
    return repo_root / BUILD_DIR / check_env(env)


def fetch_verified(
    settings: Settings, env: str, model_pin: ModelPin, record: digests.DigestRecord | None = None
) -> hub.Fetched:
    """The pinned serving files, checked against the sha256 `hubdeploy pin` recorded for them (when it did)."""
    fetched = hub.fetch(model_pin, settings=settings, record=record)
    recorded = facts.facts_for(settings.repo_root, env, model_pin)
    if recorded is not None:
        shown = facts_path(settings.repo_root, env).relative_to(settings.repo_root)
        facts.verify(fetched.manifest, recorded, shown=str(shown))
    else:
        log.info(
            "%s: no facts recorded for %s@%s: files not checked against pin-time digests",
            env,
            model_pin.hub_model_id,
            model_pin.hub_revision,
        )
    return fetched


def fetch(settings: Settings, *, env: str, manifest_path: Path | None = None) -> tuple[hub.Fetched, Path]:
    """Download `env`'s pinned serving files into the HF cache, check them against the pin's facts; write their
    manifest. Their digests go into the digest record, so the build does not hash them again."""
    model_pin = read_pin(settings.repo_root, env)
    with digests.opened(settings.digest_record) as record:
        fetched = fetch_verified(settings, env, model_pin, record)
    path = manifest_path or default_out_dir(settings.repo_root, env) / f"fetch-{MANIFEST_NAME}"
    fetched.manifest.write(path)
    return fetched, path


def build(
    settings: Settings,
    *,
    env: str,
    out_dir: Path | None = None,
    model_dir: Path | None = None,
    rehash: bool = False,
) -> archive.BuildResult:
    """Validate everything, then build model.tar.gz and lambda.zip for `env` into `out_dir`.

    From the pinned Hub revision (fetched, or from the cache offline), or from `model_dir`. Input files unchanged
    since they were last hashed are not hashed again (`digests`), unless `rehash`.
    """
    with digests.opened(settings.digest_record, trust=not rehash) as record:
        return _build(settings, env=env, out_dir=out_dir, model_dir=model_dir, record=record)


def _build(
    settings: Settings, *, env: str, out_dir: Path | None, model_dir: Path | None, record: digests.DigestRecord
) -> archive.BuildResult:
    root = settings.repo_root
    model_pin = read_pin(root, env)
    code_dir, lambda_dir = root / "model" / "code", root / "lambda"
    # Check our own repo's parts before spending time on a download.
    archive.validate_code_dir(code_dir)
    archive.validate_lambda_dir(lambda_dir)
    if model_dir is not None:
        serving = validate_model_dir(model_dir)
        source = model_dir
        manifest = Manifest(hub_model_id=model_pin.hub_model_id, hub_revision=None, source=SOURCE_LOCAL)
    else:
        fetched = fetch_verified(settings, env, model_pin, record)
        serving, source, manifest = fetched.files, fetched.snapshot_dir, fetched.manifest
    return archive.build(
        model_dir=source,
        serving=serving,
        code_dir=code_dir,
        lambda_dir=lambda_dir,
        out_dir=out_dir or default_out_dir(root, env),
        manifest=manifest,
        record=record,
    )
