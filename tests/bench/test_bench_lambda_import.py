"""The Lambda cold-start benchmark, run small: each side really imports in a fresh process, and the entry
carries its target so the README table shows whether it is met."""

from __future__ import annotations

import pytest

from bench import lambda_import

pytestmark = pytest.mark.unit


def test_the_handlers_import_is_measured_against_boto3s_with_its_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_import, "SAMPLES", 1)

    ours, first_call = lambda_import.run()

    assert (ours.name, ours.unit, ours.target) == ("lambda_import_vs_boto3", "ms", "<= 1.5x")
    assert ours.baseline is not None and ours.baseline > 0 and ours.value > 0
    assert ours.ratio == pytest.approx(ours.value / ours.baseline)
    assert ours.met is (ours.ratio <= 1.5)
    assert "median of 1 fresh processes" in ours.note
    # creating the client comes on top of the import it starts with
    assert first_call.name == "lambda_first_call_setup" and first_call.baseline == ours.value
