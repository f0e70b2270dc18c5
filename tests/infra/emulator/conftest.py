"""Shim tests run twice: on plain moto (the gap shows) and with every shim applied (the gap is closed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from hubdeploy.infra.emulator import shims


@pytest.fixture(params=["plain", "shimmed"])
def mode(request: pytest.FixtureRequest, aws_credentials: None) -> Iterator[str]:
    """Run a test on plain moto and on moto with every shim applied."""
    shims.revert_all()
    if request.param == "shimmed":
        shims.apply_all()
    with mock_aws():
        yield request.param
    shims.revert_all()


@pytest.fixture(params=["plain", "strict"])
def strictness(request: pytest.FixtureRequest, aws_credentials: None) -> Iterator[str]:
    """Run a rule test on moto with the gap shims only ("plain": AWS's rule is not enforced) and with the
    strict rules too ("strict": the emulator refuses what AWS refuses)."""
    from hubdeploy.infra.emulator import rules

    shims.revert_all()
    shims.apply_all()
    if request.param == "strict":
        rules.apply_all()
    with mock_aws():
        yield request.param
    shims.revert_all()
