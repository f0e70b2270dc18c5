"""`hubdeploy fetch --env ENV [--manifest PATH]`: download the pinned serving files into the HF cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.artifacts import build as artifact_build
from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.log import human_bytes
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="download exactly the files serving needs at the env's pinned revision",
        description="snapshot_download of config, tokenizer and weights (safetensors preferred) at the pinned "
        "revision into the HF cache (HF_HUB_CACHE; HF_TOKEN honoured; HF_HUB_OFFLINE=1 serves from the cache), "
        "then record each file's sha256 in a manifest.",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument(
        "--manifest", type=Path, default=None, help="where to write the manifest (default: .build/ENV/fetch-...)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    fetched, manifest_path = artifact_build.fetch(settings, env=args.env, manifest_path=args.manifest)
    total = sum(f.size for f in fetched.manifest.files)
    print(
        f"{fetched.manifest.hub_model_id}@{fetched.manifest.hub_revision}: {len(fetched.manifest.files)} files, "
        f"{human_bytes(total)} in {fetched.snapshot_dir}"
    )
    for entry in fetched.manifest.files:
        print(f"  {entry.sha256}  {entry.path}")
    print(f"manifest: {manifest_path}")
    return 0
