"""`hubdeploy pinned --env ENV`: is the env's model pinned? Workflows skip unpinned envs (staging and
prod start unpinned until a pin is promoted to them) instead of failing every PR.

Prints the answer and, in GitHub Actions, sets the step output `pinned=true|false`. A pin that is
present but invalid (malformed id, moving ref outside dev) is an error, not "unpinned".
"""

from __future__ import annotations

import argparse
import json
import os

from hubdeploy.envs import ENVIRONMENTS, pin_path, read_pin
from hubdeploy.errors import PinError
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pinned",
        help="say whether an env's model is pinned (step output pinned=true|false)",
        description="Exit 0 with pinned=true|false; exit 1 when the pin file is present but invalid.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.set_defaults(handler=run)


def is_pinned(settings: Settings, env: str) -> bool:
    """False when the pin file is missing or its hub_revision is null; raises on an invalid pin."""
    path = pin_path(settings.repo_root, env)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except json.JSONDecodeError as exc:
        raise PinError(f"{env}: {path} is not valid JSON ({exc})", hint="fix the file or restore it with git") from None
    if not isinstance(data, dict) or data.get("hub_revision") in (None, ""):
        return False
    read_pin(settings.repo_root, env)  # validates: a bad pin must fail loudly, never be skipped
    return True


def run(args: argparse.Namespace, settings: Settings) -> int:
    pinned = is_pinned(settings, args.env)
    print(f"{args.env}: {'pinned' if pinned else 'not pinned yet: skipping (pin dev, then promote)'}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(f"pinned={str(pinned).lower()}\n")
    return 0
