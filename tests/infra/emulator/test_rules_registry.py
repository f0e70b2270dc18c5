"""The strict rules' registry: each rule cites AWS's documentation and is exercised by a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubdeploy.infra.emulator import rules

pytestmark = pytest.mark.unit

HERE = Path(__file__).parent


def test_every_rule_cites_the_aws_documentation_and_has_a_test():
    registered = rules.load()
    assert registered, "the strict emulator enforces at least one rule"
    tests = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    untested = [name for name in registered if name not in tests]
    assert not untested, f"rules without a test naming them in tests/infra/emulator/: {untested}"
    for strict_rule in registered.values():
        assert strict_rule.doc.startswith("https://docs.aws.amazon.com/"), strict_rule


def test_a_rule_without_an_aws_citation_is_refused():
    with pytest.raises(ValueError, match="cites the AWS documentation"):
        rules.rule("https://example.com/blog")
