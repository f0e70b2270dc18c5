"""Scratch copies of a checkout: what the local stack, `hubdeploy preview` and the tests work on, so the
user's tree (its pins, Terraform state and generated tfvars) is never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

# The parts of a checkout the pipeline reads: Terraform roots/modules, the two artifacts' sources, and the
# evaluation set a model change is measured on (hubdeploy evaluate).
CHECKOUT_PARTS: tuple[str, ...] = ("terraform", "model", "lambda", "evaluation")
CHECKOUT_FILES: tuple[str, ...] = ("model-gates.toml",)  # the model gates `hubdeploy pinned` checks
# Never copied: Terraform working state, plans, emulator overrides, and publish output of the real tree.
SCRATCH_IGNORE = shutil.ignore_patterns(
    ".terraform",
    "*.tfstate*",
    "tfplan",
    "*.tfplan",
    "*_override.tf",
    "*_override.tf.json",
    "artifacts.auto.tfvars.json",
    "__pycache__",
)


def copy_checkout(repo_root: Path, dest: Path) -> Path:
    """Copy terraform/, model/, lambda/, evaluation/ and model-gates.toml of `repo_root` into `dest`, replacing what
    `dest` had."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in CHECKOUT_PARTS:
        src, dst = repo_root / part, dest / part
        if dst.exists():
            shutil.rmtree(dst)
        if src.exists():
            shutil.copytree(src, dst, ignore=SCRATCH_IGNORE)
    for name in CHECKOUT_FILES:
        (dest / name).unlink(missing_ok=True)
        if (repo_root / name).is_file():
            shutil.copyfile(repo_root / name, dest / name)
    return dest
