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
