"""The two sides an evaluation compares, and whether it has to run at all: git and files only, never torch
(a PR that changes no model skips the evaluation in a plan job that has no torch installed).

- base: what the env has deployed, i.e. the env's pin and serving code at the base ref (on a PR, the commit it is
  merged into), exported from git into a scratch folder;
- head: the pin and serving code of the working tree (on a PR, the PR's).

Both sides must serve something for a comparison: head unpinned skips ("not pinned"); base unpinned evaluates head
alone. Unless the env's pin (model id and revision), a file under model/ or the env's `precision` (its
terraform.tfvars) differs, the evaluation is skipped: turning int8 on is evaluated like a model change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubdeploy.artifacts.archive import source_files
from hubdeploy.checkout import CHECKOUT_FILES, CHECKOUT_PARTS
from hubdeploy.envs import ModelPin, env_dir, read_pin
from hubdeploy.errors import UsageError
from hubdeploy.gitops.promotion import is_pinned
from hubdeploy.infra.envvalues import configured_precision

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

WORKING_TREE = "working tree"
SERVING_DIR = "model"  # the serving code and its requirements: a change here is evaluated even with the same pin


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a checkout of terraform/, model/ and lambda/ and the env's pin in it."""

    ref: str  # what it was asked as: "main", a commit, or "working tree"
    commit: str  # the commit it comes from ("unknown" when not known)
    root: Path
    pin: ModelPin | None  # None: the env is not pinned on this side
    precision: str = "fp32"  # the env's `precision` on this side (terraform/envs/<env>/terraform.tfvars)


@dataclass(frozen=True)
class Comparison:
    env: str
    base: Side
    head: Side
    skip_reason: str | None  # why nothing is evaluated, or None


def _git(git_root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=git_root, capture_output=True, check=False)


def is_git_clone(git_root: Path) -> bool:
    return _git(git_root, "rev-parse", "--git-dir").returncode == 0


def has_commit(git_root: Path, ref: str) -> bool:
    """True when `ref` names a commit in the clone at `git_root`."""
    return _git(git_root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0


def resolve_commit(git_root: Path, ref: str) -> str:
    """The commit `ref` names in the clone at `git_root`.

    Raises:
        UsageError: not a git clone, or the ref is not in it (a shallow CI checkout may lack it).
    """
    if not is_git_clone(git_root):
        raise UsageError(
            f"{git_root} is not a git clone: the base side of the evaluation comes from git",
            hint="run in a git clone of the repository",
        )
    proc = _git(git_root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if proc.returncode != 0:
        raise UsageError(
            f"base ref {ref!r} is not a commit in this clone",
            hint=f"fetch it (git fetch origin {ref}; a CI checkout needs it in its fetch depth) or pass --base-ref",
        )
    return proc.stdout.decode().strip()


def export_tree(git_root: Path, commit: str, dest: Path) -> Path:
    """The checkout parts (`hubdeploy.checkout`) as `commit` has them, into `dest` (no .git, no work tree)."""
    listed = _git(git_root, "ls-tree", "--name-only", commit)
    present = set(listed.stdout.decode().splitlines())
    paths = [p for p in (*CHECKOUT_PARTS, *CHECKOUT_FILES) if p in present]
    proc = _git(git_root, "archive", "--format=tar", commit, "--", *paths)
    if listed.returncode != 0 or proc.returncode != 0:
        raise UsageError(
            f"cannot export {commit[:12]} from git ({proc.stderr.decode().strip() or listed.stderr.decode().strip()})",
            hint="check that the clone is complete (git fsck)",
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r:") as tar:
        tar.extractall(dest, filter="data")
    return dest


def pin_of(settings: Settings, root: Path, env: str) -> ModelPin | None:
    """The env's pin in the checkout at `root`, None when it is not pinned there (an invalid pin raises)."""
    if not is_pinned(dataclasses.replace(settings, repo_root=root), env):
        return None
    return read_pin(root, env)


def tree_digest(folder: Path) -> str:
    """sha256 over the names and bytes of the files under `folder`, as the build packs them (no caches)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for name, path in source_files(folder, what="serving code"):
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _shown(side: Side) -> str:
    return f"{side.pin.hub_model_id}@{side.pin.hub_revision} ({side.precision})" if side.pin else "nothing (not pinned)"


def compare(
    settings: Settings,
    *,
    env: str,
    base_ref: str,
    head_root: Path,
    head_commit: str,
    git_root: Path,
    workdir: Path,
) -> Comparison:
    """The base side (exported from git under `workdir`) against the head side at `head_root`, or why to skip."""
    head = Side(
        ref=WORKING_TREE,
        commit=head_commit,
        root=head_root,
        pin=pin_of(settings, head_root, env),
        precision=configured_precision(env_dir(head_root, env)),
    )
    commit = resolve_commit(git_root, base_ref)
    base_root = export_tree(git_root, commit, workdir / "base-checkout")
    base = Side(
        ref=base_ref,
        commit=commit,
        root=base_root,
        pin=pin_of(settings, base_root, env),
        precision=configured_precision(env_dir(base_root, env)),
    )
    reason = None
    if head.pin is None:
        reason = f"{env} is not pinned: nothing to evaluate"
    elif (
        base.pin == head.pin
        and base.precision == head.precision
        and tree_digest(base_root / SERVING_DIR) == tree_digest(head_root / SERVING_DIR)
    ):
        reason = f"no model or serving code change for {env}"
    log.info(
        "evaluate %s: base %s (%s) serves %s; head serves %s", env, base_ref, commit[:12], _shown(base), _shown(head)
    )
    return Comparison(env=env, base=base, head=head, skip_reason=reason)
