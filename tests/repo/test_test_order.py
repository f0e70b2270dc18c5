"""`make test` hands whole files to its workers in collection order; tests/conftest.py puts the longest first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LONGEST_FILES, longest_first

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


@dataclass
class FakeItem:
    nodeid: str


def test_the_longest_files_come_first_and_every_file_keeps_its_tests_in_order() -> None:
    items = [
        FakeItem("tests/artifacts/test_a.py::one"),
        FakeItem(f"{LONGEST_FILES[1]}::first"),
        FakeItem("tests/artifacts/test_a.py::two"),
        FakeItem(f"{LONGEST_FILES[0]}::only"),
        FakeItem(f"{LONGEST_FILES[1]}::second"),
        FakeItem("tests/model/test_b.py::one"),
    ]
    ordered = [item.nodeid for item in longest_first(items)]  # type: ignore[arg-type]
    assert ordered == [
        f"{LONGEST_FILES[0]}::only",
        f"{LONGEST_FILES[1]}::first",
        f"{LONGEST_FILES[1]}::second",
        "tests/artifacts/test_a.py::one",
        "tests/artifacts/test_a.py::two",
        "tests/model/test_b.py::one",
    ]


def test_every_listed_file_exists() -> None:
    missing = [path for path in LONGEST_FILES if not (REPO_ROOT / path).is_file()]
    assert missing == [], "tests/conftest.py LONGEST_FILES names files that are gone: update it"
