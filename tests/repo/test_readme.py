"""The README is the front door: the commands it shows must exist with the flags it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hubdeploy.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def readme_hubdeploy_commands() -> list[str]:
    """`hubdeploy ...` lines inside the README's shell code blocks (comments and continuations dropped)."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            match = re.search(r"(?:^|\s|/)hubdeploy (.+)$", line)
            if match:
                commands.append(match.group(1).strip())
    return commands


def test_the_readme_shows_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test" in text


@pytest.mark.parametrize("command", readme_hubdeploy_commands())
def test_every_hubdeploy_command_in_the_readme_parses(command: str):
    command = re.sub(r"<[^>]*>", "PLACEHOLDER", command)  # `<tag, branch or commit>` is one value
    command = re.split(r"\s[>|&]", command)[0]  # shell redirections and pipes are not arguments
    args = shlex.split(command)
    build_parser().parse_args(args)  # argparse exits (SystemExit) on an unknown command or flag


def test_the_readme_shows_hubdeploy_commands_at_all():
    assert len(readme_hubdeploy_commands()) >= 5
