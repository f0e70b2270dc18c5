"""The one patch mechanism: reversible, idempotent, and never silently replacing another patch."""

from __future__ import annotations

import pytest

from hubdeploy.infra.emulator import patching

pytestmark = pytest.mark.unit


class Target:
    def greet(self) -> str:
        return "moto"


def first(self: Target) -> str:
    return "first"


def second(self: Target) -> str:
    return "second"


def test_a_patch_is_reverted_and_reapplying_it_is_a_no_op():
    patching.patch(Target, "greet", first)
    patching.patch(Target, "greet", first)
    assert Target().greet() == "first"
    patching.revert_all()
    assert Target().greet() == "moto"


def test_a_second_different_patch_of_one_attribute_is_refused_naming_both():
    patching.patch(Target, "greet", first)
    try:
        with pytest.raises(RuntimeError, match=r"Target\.greet is already patched by .*first; .*second would replace"):
            patching.patch(Target, "greet", second)
        assert Target().greet() == "first"
    finally:
        patching.revert_all()
