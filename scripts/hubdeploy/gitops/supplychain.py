"""The model table's supply-chain rows: licence, weights format, and which serving files' sha256 changed.

They come from the facts `hubdeploy pin` recorded (`artifacts.facts`), never from the plan: the checkout's facts
file, and the one of the commit it was made on (`HEAD^1`: on a PR the base it is merged into, in the merge queue
the queue's base, on main the previous commit; the plan job checks out two commits for this). Facts are matched to
the revisions the table shows, so a column whose revision has no recorded facts says `-` rather than guess.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterable
from pathlib import Path

from hubdeploy.artifacts.facts import ModelFacts, read_facts
from hubdeploy.envs import facts_path
from hubdeploy.errors import ArtifactError, PinError

log = logging.getLogger(__name__)

ABSENT = "-"
FIELDS: tuple[tuple[str, str], ...] = (
    ("licence", "Licence"),
    ("weights_format", "Weights format"),
    ("files_changed", "Files changed (sha256)"),
)
MAX_FILES = 4  # files named in the row; more are counted (the comment stays compact)
BASE = "HEAD^1"


def base_facts(repo_root: Path, env: str) -> ModelFacts | None:
    """The env's facts file as the parent commit has it, or None (not a git checkout, no parent, no file)."""
    if not (repo_root / ".git").exists():
        return None
    rel = facts_path(repo_root, env).relative_to(repo_root).as_posix()
    proc = subprocess.run(["git", "show", f"{BASE}:{rel}"], cwd=repo_root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log.info("no facts at %s:%s (%s)", BASE, rel, proc.stderr.strip().splitlines()[-1:] or "")
        return None
    try:
        return ModelFacts.from_json(json.loads(proc.stdout), where=f"{BASE}:{rel}")
    except (json.JSONDecodeError, PinError):
        log.warning("%s:%s is not a facts file: the comment shows no facts for it", BASE, rel)
        return None


def known_facts(repo_root: Path, env: str) -> list[ModelFacts]:
    """Every facts record that may describe a revision of the plan: the checkout's and its parent's."""
    try:
        head = read_facts(repo_root, env)
    except PinError as exc:
        log.warning("%s: the comment shows no facts (%s)", env, exc.message)
        head = None
    return [f for f in (head, base_facts(repo_root, env)) if f is not None]


def _digests(old: ModelFacts, new: ModelFacts) -> tuple[str, str]:
    before = {f.path: f.sha256 for f in old.files}
    after = {f.path: f.sha256 for f in new.files}
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if not changed:
        return "unchanged", "unchanged"
    more = f" (+{len(changed) - MAX_FILES} more)" if len(changed) > MAX_FILES else ""

    def side(digests: dict[str, str]) -> str:
        return ", ".join(f"{p} {digests[p][:12]}" if p in digests else f"{p} {ABSENT}" for p in changed[:MAX_FILES])

    return side(before) + more, side(after) + more


def rows(model: dict[str, tuple[str, str]], facts: Iterable[ModelFacts]) -> dict[str, tuple[str, str]]:
    """field -> (before, after) for FIELDS, for the model table's Hub model and revision on each side."""
    by_revision = {(f.hub_model_id, f.hub_revision): f for f in facts}
    ids, revisions = model.get("hub_model_id", (ABSENT, ABSENT)), model.get("hub_revision", (ABSENT, ABSENT))
    old, new = (by_revision.get((ids[i], revisions[i])) for i in (0, 1))

    def licence(f: ModelFacts | None) -> str:
        return ABSENT if f is None else (f.licence or "none declared")

    def weights(f: ModelFacts | None) -> str:
        try:
            return f.weights_format if f else ABSENT
        except ArtifactError:  # a hand-edited facts file without weights: the build will refuse it anyway
            return ABSENT

    return {
        "licence": (licence(old), licence(new)),
        "weights_format": (weights(old), weights(new)),
        "files_changed": _digests(old, new) if old and new else (ABSENT, ABSENT),
    }
