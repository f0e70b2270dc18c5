"""`hubdeploy publish --env ENV [--bucket B] [--artifacts-dir DIR] [--git-commit SHA]`: upload to S3."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.artifacts import build as artifact_build
from hubdeploy.artifacts import publish as publishing
from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.log import human_bytes
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="upload the built artifacts to S3 (idempotent, never overwrites) and write artifacts tfvars",
        description="Upload model.tar.gz and lambda.zip under timestamped keys (same bytes: nothing uploaded, "
        "same keys), then write terraform/envs/ENV/artifacts.auto.tfvars.json.",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument(
        "--bucket", default=None, help="artifact bucket (default: hubdeploy-artifacts-<account>-<region>)"
    )
    parser.add_argument(
        "--artifacts-dir", type=Path, default=None, metavar="DIR", help="the build's folder (default: .build/ENV)"
    )
    parser.add_argument(
        "--git-commit", default=None, metavar="SHA", help="tag value (default: GITHUB_SHA, else git rev-parse HEAD)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = publishing.publish(
        settings,
        env=args.env,
        artifacts_dir=args.artifacts_dir or artifact_build.default_out_dir(settings.repo_root, args.env),
        bucket=args.bucket,
        commit=args.git_commit,
    )
    for item in (result.model, result.lambda_zip):
        what = f"uploaded {human_bytes(item.bytes_uploaded)}" if item.bytes_uploaded else "already published"
        print(f"{item.name}: {item.url} ({what}, sha256 {item.sha256})")
    print(f"wrote {result.artifacts_file}")
    return 0
