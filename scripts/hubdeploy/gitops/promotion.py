"""Pins and promotion: `hubdeploy pin` resolves a Hub ref to a commit and writes it as an env's pin, with the Hub's
facts about that commit next to it (`artifacts.facts`); `hubdeploy promote` copies a pin and its facts forward
(dev -> staging -> prod); `hubdeploy pinned` says whether an env has one. A pin is one committed file per env
(plus its facts file), so a promotion is a small PR."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubdeploy.artifacts import hub
from hubdeploy.artifacts.facts import facts_for, remove_facts, write_facts
from hubdeploy.envs import (
    ENVIRONMENTS,
    ModelPin,
    check_env,
    check_pin,
    current_model_id,
    is_commit_sha,
    pin_path,
    read_pin,
    write_pin,
)
from hubdeploy.errors import PinError, UsageError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.log import warn

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_REVISION = "main"


@dataclass(frozen=True)
class PinChange:
    env: str
    pin: ModelPin
    previous: str | None
    path: Path
    resolved_from: str | None  # the ref that was resolved, None if written as given

    @property
    def changed(self) -> bool:
        return self.previous != self.pin.hub_revision


def _previous_revision(repo_root: Path, env: str) -> str | None:
    try:
        return read_pin(repo_root, env, validate=False).hub_revision
    except PinError:
        return None


def unpin(settings: Settings, *, env: str) -> Path | None:
    """Set `env`'s pinned revision to null (the unpinned state staging and prod start in: CI skips the env).
    Returns the pin file relative to the checkout, or None when it was not pinned."""
    check_env(env)
    if not is_pinned(settings, env):
        return None
    path = pin_path(settings.repo_root, env)
    atomic_write_json(path, {"hub_model_id": current_model_id(settings.repo_root, env), "hub_revision": None})
    remove_facts(settings.repo_root, env)
    return path.relative_to(settings.repo_root)


def pin(
    settings: Settings,
    *,
    env: str,
    revision: str | None = None,
    model_id: str | None = None,
    resolve: bool = True,
) -> PinChange:
    """Resolve `revision` of `model_id` to a commit SHA on the Hub and write it as `env`'s pin.

    With `resolve=False` the ref is written as given: allowed for dev only (it then follows the
    branch, so builds are not reproducible), refused for staging/prod by `check_pin`.
    """
    check_env(env)
    model_id = model_id or current_model_id(settings.repo_root, env)
    revision = revision or DEFAULT_REVISION
    previous = _previous_revision(settings.repo_root, env)
    if not resolve:
        new = check_pin(ModelPin(hub_model_id=model_id, hub_revision=revision), env)
        if not is_commit_sha(revision):
            warn(
                f"{env} now follows the moving ref {revision!r} of {model_id}: every build may get other weights. "
                f"Pin a commit with `hubdeploy pin --env {env} --revision {revision}` before promoting."
            )
        path = write_pin(settings.repo_root, env, new)
        remove_facts(settings.repo_root, env)  # facts are about one commit; a moving ref has none
        return PinChange(env, new, previous, path, resolved_from=None)
    check_pin(ModelPin(hub_model_id=model_id, hub_revision=revision), "dev")  # id shape, before any network
    resolved = hub.resolve(model_id, revision, settings=settings)
    if resolved.from_cache:
        warn(
            f"HF_HUB_OFFLINE=1: {model_id}@{revision} resolved from the local HF cache to {resolved.sha}; "
            "the Hub may have moved on since it was cached"
        )
    new = check_pin(ModelPin(hub_model_id=model_id, hub_revision=resolved.sha), env)
    facts = hub.revision_facts(model_id, resolved.sha, settings=settings)
    # facts first: a pin written without them would be checked against none (facts_for ignores other revisions)
    write_facts(settings.repo_root, env, facts)
    path = write_pin(settings.repo_root, env, new)
    return PinChange(env, new, previous, path, resolved_from=revision)


def promote(settings: Settings, *, source: str, target: str) -> PinChange:
    """Copy `source`'s pin to `target`: promotion goes forward (dev -> staging -> prod), by commit SHA."""
    check_env(source)
    check_env(target)
    if ENVIRONMENTS.index(target) <= ENVIRONMENTS.index(source):
        raise UsageError(
            f"cannot promote {source} to {target}: promotion goes {' -> '.join(ENVIRONMENTS)}",
            hint=f"to set {target} directly use: hubdeploy pin --env {target} --revision <sha>",
        )
    src = read_pin(settings.repo_root, source)
    if not is_commit_sha(src.hub_revision):
        raise PinError(
            f"{source} pins the moving ref {src.hub_revision!r}; only a commit SHA can be promoted",
            hint=f"run: hubdeploy pin --env {source} --revision {src.hub_revision}, then promote",
        )
    if ENVIRONMENTS.index(target) - ENVIRONMENTS.index(source) > 1:
        warn(f"promoting {source} straight to {target}, skipping {ENVIRONMENTS[ENVIRONMENTS.index(source) + 1]}")
    previous = _previous_revision(settings.repo_root, target)
    facts = facts_for(settings.repo_root, source, src)
    if facts is None:
        remove_facts(settings.repo_root, target)
        warn(f"{source} has no recorded facts for {src.hub_revision[:12]}: {target} gets none (run hubdeploy pin)")
    else:
        write_facts(settings.repo_root, target, facts)
    path = write_pin(settings.repo_root, target, src)
    return PinChange(target, src, previous, path, resolved_from=None)


def is_pinned(settings: Settings, env: str) -> bool:
    """False when the pin file is missing or its hub_revision is null; raises on an invalid pin."""
    path = pin_path(settings.repo_root, env)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except json.JSONDecodeError as exc:
        raise PinError(f"{env}: {path} is not valid JSON ({exc})", hint="fix the file or restore it with git") from None
    if not isinstance(data, dict) or data.get("hub_revision") in (None, ""):
        return False
    read_pin(settings.repo_root, env)  # validates: a bad pin must fail loudly, never be skipped
    return True
