"""The one entry point: `hubdeploy <command> ...`.

Each command lives in `hubdeploy/commands/<name>.py` and exposes
`register(subparsers)`, which adds its parser and sets `handler=run`, where
`run(args, settings) -> int`. Heavy imports (torch, boto3, moto) stay inside the
command modules' functions so `hubdeploy --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hubdeploy import __version__
from hubdeploy.errors import HubdeployError
from hubdeploy.log import annotate, setup_logging
from hubdeploy.settings import Settings

# One line per command module, in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "bootstrap",
    "pin",
    "promote",
    "fetch",
    "build",
    "publish",
    "pinned",
    "plan",
    "apply",
    "comment",
    "deploy_check",
    "record_endpoint",
    "smoke",
    "rollback",
    "drift",
    "destroy_guard",
    "preview",
    "local",
)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global flags plus one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="hubdeploy",
        description="Take a Hugging Face model from the Hub to a SageMaker endpoint, the GitOps way.",
    )
    parser.add_argument("--debug", action="store_true", help="verbose logs and full tracebacks")
    parser.add_argument("--version", action="version", version=f"hubdeploy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hubdeploy.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn known errors into one line + exit code 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(debug=args.debug)
    try:
        return int(args.handler(args, Settings.from_env()) or 0)
    except HubdeployError as exc:
        if args.debug:
            log.exception("failed")
        # One line: an `::error::` annotation in GitHub Actions, `ERROR: ...` on a terminal.
        annotate("error", f"hubdeploy {args.command}: {exc.one_line()}")
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
