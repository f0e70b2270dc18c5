"""The evaluation gates of model-gates.toml: each bad value refused with its message, and each gate passing,
failing with the numbers and the file to change, or not applying when the env had no model at base."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubdeploy import gates
from hubdeploy.errors import UsageError

pytestmark = pytest.mark.unit


def env_gates(text: str, env: str = "prod") -> gates.EnvGates:
    return gates.parse(Path("model-gates.toml"), text).for_env(env)


def test_the_repos_gates_are_loose_on_dev_and_tighter_on_staging_and_prod(repo_root: Path) -> None:
    loaded = gates.load(repo_root)
    dev, staging, prod = (loaded.for_env(env) for env in ("dev", "staging", "prod"))
    assert dev.evaluation_gates == {"min_accuracy": 0.4, "max_accuracy_drop": 0.2}
    assert staging.evaluation_gates == {"min_accuracy": 0.7, "max_accuracy_drop": 0.02, "max_flips": 21}
    assert prod.evaluation_gates == {"min_accuracy": 0.7, "max_accuracy_drop": 0.01, "max_flips": 10}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[prod]\nmin_accuracy = "0.8"\n', "[prod] min_accuracy must be a number from 0 to 1, not '0.8'"),
        ("[prod]\nmin_accuracy = 85\n", "[prod] min_accuracy must be a number from 0 to 1, not 85"),
        ("[prod]\nmin_accuracy = true\n", "[prod] min_accuracy must be a number from 0 to 1, not True"),
        ("[prod]\nmax_accuracy_drop = -0.01\n", "[prod] max_accuracy_drop must be a number from 0 to 1, not -0.01"),
        ("[prod]\nmax_flips = 2.5\n", "[prod] max_flips must be an integer >= 0, not 2.5"),
        ("[prod]\nmax_flips = -1\n", "[prod] max_flips must be an integer >= 0, not -1"),
        ("[prod]\nmin_acuracy = 0.8\n", "[prod] has unknown key(s) min_acuracy"),
    ],
)
def test_each_bad_gate_value_is_refused_naming_the_key(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as bad:
        env_gates(text)
    assert bad.value.message == f"model-gates.toml: {expected}"
    assert bad.value.hint


def test_gates_that_pass_say_so_with_the_numbers() -> None:
    set_ = env_gates("[prod]\nmin_accuracy = 0.8\nmax_accuracy_drop = 0.05\nmax_flips = 3\n")
    # 0.90 -> 0.85 is a drop of exactly 0.05: at the limit passes (no float noise: 0.9 - 0.85 = 0.05000000000000004)
    results = gates.check_evaluation(set_, head_accuracy=0.85, base_accuracy=0.9, flips=3)
    assert [(r.name, r.limit, r.value, r.passed) for r in results] == [
        ("min_accuracy", 0.8, 0.85, True),
        ("max_accuracy_drop", 0.05, 0.05, True),
        ("max_flips", 3, 3, True),
    ]
    assert results[1].message == "accuracy 0.9000 -> 0.8500, a drop of 0.0500, within max_accuracy_drop 0.05"
    assert gates.verdict(results) == "pass"


def test_gates_that_fail_name_the_gate_the_numbers_and_the_file() -> None:
    set_ = env_gates("[prod]\nmin_accuracy = 0.85\nmax_accuracy_drop = 0.05\nmax_flips = 10\n")
    results = gates.check_evaluation(set_, head_accuracy=0.81, base_accuracy=0.9, flips=12)
    assert [r.passed for r in results] == [False, False, False]
    assert [r.message for r in results] == [
        "prod: accuracy 0.8100 is below min_accuracy 0.85 (model-gates.toml [prod])",
        "prod: accuracy dropped by 0.0900 (0.9000 -> 0.8100), more than max_accuracy_drop 0.05 "
        "(model-gates.toml [prod])",
        "prod: 12 label flips, more than max_flips 10 (model-gates.toml [prod])",
    ]
    assert gates.verdict(results) == "fail"


def test_without_a_base_only_min_accuracy_applies_and_unset_gates_are_not_checked() -> None:
    set_ = env_gates("[staging]\nmin_accuracy = 0.7\nmax_accuracy_drop = 0.0\nmax_flips = 0\n", "staging")
    results = gates.check_evaluation(set_, head_accuracy=0.75, base_accuracy=None, flips=None)
    assert [(r.name, r.passed) for r in results] == [
        ("min_accuracy", True),
        ("max_accuracy_drop", None),
        ("max_flips", None),
    ]
    assert results[1].message == "not applicable: nothing deployed at base"
    assert gates.verdict(results) == "pass"
    assert gates.check_evaluation(env_gates("", "dev"), head_accuracy=0.1, base_accuracy=0.9, flips=99) == []
