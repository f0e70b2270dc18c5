"""Snapshots of a folder, to assert that a failed command changed nothing."""

from __future__ import annotations

from pathlib import Path


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: to assert that a failed command changed nothing."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
