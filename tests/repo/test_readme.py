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


def test_docs_do_not_claim_a_provider_fix_the_locked_provider_lacks():
    # given the provider version the roots lock (5.x: #40048's fix, #42843, shipped only in 6.x)
    lock = (REPO / "terraform" / "root" / ".terraform.lock.hcl").read_text()
    major = int(re.search(r'version\s*=\s*"(\d+)\.', lock).group(1))
    docs = [REPO / "README.md", *sorted((REPO / "terraform").rglob("README.md"))]
    for doc in docs:
        text = doc.read_text()
        for paragraph in re.split(r"\n\s*\n", text):
            if "40048" not in paragraph:
                continue
            # then every mention says the fix is in 6.x while the lock is on 5.x, never "fixed" plainly
            if major < 6:
                assert "6.x" in paragraph, f"{doc.relative_to(REPO)} mentions #40048 without saying its fix is 6.x-only"


def test_the_readme_states_the_request_limits_the_committed_table_derives():
    import json

    derived = json.loads((REPO / "terraform" / "root" / "request-limits.json").read_text())["derived"]
    t2, m5 = derived["ml.t2.medium"]["limits"], derived["ml.m5.large"]["limits"]
    assert {d["limits"]["max_texts"] for k, d in derived.items() if k.startswith("ml.m5.")} == {m5["max_texts"]}
    text = " ".join((REPO / "README.md").read_text().split())  # line wrapping aside
    assert f"{t2['max_texts']} texts of {t2['max_text_chars']} characters on dev's ml.t2.medium" in text
    assert f"{t2['max_texts']} texts on `ml.t2.medium`, {m5['max_texts']} on `ml.m5.*`" in text
