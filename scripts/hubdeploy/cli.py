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
    "evaluate",
    "publish",
    "pinned",
    "plan",
    "apply",
    "comment",
    "deploy_check",
    "gate",
    "record_endpoint",
    "smoke",
    "loadtest",
    "rollback",
    "drift",
    "target",
    "destroy_guard",
    "unlock",
    "checks",
    "preview",
    "prices",
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


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """Parse, dispatch, and turn known errors into one line + exit code 1.

    `settings` defaults to the process environment, read here once; `preview` passes its own to run
    the PR steps on a scratch copy against the emulator.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings or Settings.from_env()
    setup_logging(debug=args.debug, github_actions=settings.in_github_actions)
    try:
        return int(args.handler(args, settings) or 0)
    except HubdeployError as exc:
        return _fail(args, exc.one_line(), code=exc.exit_code)
    except OSError as exc:
        # Disk full, permission denied, a folder where a file should be: the OS's words and the path.
        where = f": {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        return _fail(args, f"{reason}{where} -> check that path, its permissions and the free disk space")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _fail(args: argparse.Namespace, line: str, *, code: int = 1) -> int:
    """One line: an `::error::` annotation in GitHub Actions, `ERROR: ...` on a terminal (traceback with --debug)."""
    if args.debug:
        log.exception("failed")
    annotate("error", f"hubdeploy {args.command}: {line}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
