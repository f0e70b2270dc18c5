"""`hubdeploy build --env ENV [--out DIR] [--model-dir DIR] [--rehash]`: model.tar.gz + lambda.zip, reproducibly."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hubdeploy.artifacts import build as artifact_build
from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.log import human_bytes
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build model.tar.gz and lambda.zip (byte-reproducible)",
        description="Validate, then write model.tar.gz (model files at the root, code/ from model/code, the "
        "manifest) and lambda.zip (lambda/ at the zip root) into DIR. Nothing is written if anything fails.",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: .build/ENV)")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="build from this local model folder instead of the pinned Hub revision (dev only when publishing)",
    )
    parser.add_argument(
        "--rehash",
        action="store_true",
        help="hash every input file again, instead of trusting the digest recorded when it was last hashed "
        "while its size, inode, mtime and ctime have not changed since (HUBDEPLOY_DIGEST_RECORD)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    result = artifact_build.build(
        settings, env=args.env, out_dir=args.out, model_dir=args.model_dir, rehash=args.rehash
    )
    origin = result.manifest.hub_revision or f"local folder {args.model_dir}"
    print(f"built {result.manifest.hub_model_id} ({origin}) in {time.monotonic() - started:.1f}s")
    for artifact in (result.model, result.lambda_zip):
        print(f"  {artifact.sha256}  {artifact.path}  {human_bytes(artifact.size)}")
    print(f"  manifest: {result.manifest_path}")
    return 0
