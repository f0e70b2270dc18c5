"""The one entry point: `hubdeploy <command> ...`.

Each command lives in `hubdeploy/commands/<name>.py` and exposes
`register(subparsers)`, which adds its parser and sets `handler=run`, where
`run(args, settings) -> int`. Heavy imports (torch, boto3, moto) stay inside the
command modules' functions so `hubdeploy --help` is instant, and a call naming its
command imports that command's module alone (start-up counts in every CI step and
in `hubdeploy build`'s benchmark: all 25 modules cost ~0.25 s, one ~0.05 s).
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


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command module `argv` names: its first word that is not a flag (the global flags take no value)."""
    for arg in argv:
        if not arg.startswith("-"):
            module = arg.replace("-", "_")
            return module if module in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Global flags plus a subparser per command module: only the command `argv` names, if it names one; every
    command otherwise (no `argv`, no command, `--help`, a typo: argparse lists them all)."""
    parser = argparse.ArgumentParser(
        prog="hubdeploy",
        description="Take a Hugging Face model from the Hub to a SageMaker endpoint, the GitOps way.",
    )
    parser.add_argument("--debug", action="store_true", help="verbose logs and full tracebacks")
    parser.add_argument("--version", action="version", version=f"hubdeploy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = chosen_command(argv) if argv is not None else None
    for name in COMMANDS if chosen is None else (chosen,):
        importlib.import_module(f"hubdeploy.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """Parse, dispatch, and turn known errors into one line + exit code 1.

    `settings` defaults to the process environment, read here once; `preview` passes its own to run
    the PR steps on a scratch copy against the emulator.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
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
