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
        ("[prod]\nmin_int8_agreement = 99\n", "[prod] min_int8_agreement must be a number from 0 to 1, not 99"),
        ('[prod]\nmin_int8_agreement = "0.99"\n', "[prod] min_int8_agreement must be a number from 0 to 1, not '0.99'"),
        ("[prod]\nmin_int8_agreement = false\n", "[prod] min_int8_agreement must be a number from 0 to 1, not False"),
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


SETTING = "terraform/envs/prod/terraform.tfvars"


def int8(same: int, total: int = 200) -> gates.Int8Agreement:
    return gates.Int8Agreement(same / total, same, total)


def test_an_int8_env_is_gated_at_099_when_model_gates_sets_nothing() -> None:
    unset = env_gates("[prod]\nmin_accuracy = 0.7\n")
    assert unset.min_int8_agreement is None and unset.int8_agreement_limit == gates.DEFAULT_MIN_INT8_AGREEMENT == 0.99
    # 198 of 200 is exactly 0.99: at the limit passes
    passed = gates.check_int8(unset, precision="int8", measured=int8(198), setting=SETTING)
    assert passed is not None
    assert (passed.name, passed.limit, passed.value, passed.passed) == ("min_int8_agreement", 0.99, 0.99, True)
    assert passed.message == (
        "int8 labels 198 of 200 sentences (0.9900) as fp32 does, at least min_int8_agreement 0.99 (the default)"
    )
    failed = gates.check_int8(unset, precision="int8", measured=int8(197), setting=SETTING)
    assert failed is not None and failed.passed is False and failed.value == 0.985
    assert failed.message == (
        "prod: int8 labels only 197 of 200 sentences (0.9850) as fp32 does, below min_int8_agreement 0.99 "
        '(the default): it must stay fp32: set precision = "fp32" in terraform/envs/prod/terraform.tfvars, or lower '
        "min_int8_agreement in model-gates.toml [prod] in a reviewed PR"
    )
    assert gates.verdict([passed, failed]) == "fail"


def test_min_int8_agreement_in_model_gates_replaces_the_default() -> None:
    loose = env_gates("[prod]\nmin_int8_agreement = 0.95\n")
    assert loose.evaluation_gates == {"min_int8_agreement": 0.95}
    result = gates.check_int8(loose, precision="int8", measured=int8(192), setting=SETTING)  # 0.96
    assert result is not None and result.passed is True
    assert result.message.endswith("at least min_int8_agreement 0.95 (model-gates.toml [prod])")
    strict = env_gates("[prod]\nmin_int8_agreement = 1\n")
    result = gates.check_int8(strict, precision="int8", measured=int8(199), setting=SETTING)
    assert result is not None and result.passed is False
    assert "below min_int8_agreement 1 (model-gates.toml [prod])" in result.message


def test_an_fp32_env_is_not_gated_on_int8_however_far_it_disagrees() -> None:
    strict = env_gates("[prod]\nmin_int8_agreement = 1\n")
    assert gates.check_int8(strict, precision="fp32", measured=int8(10), setting=SETTING) is None


def test_an_int8_env_whose_model_did_not_run_in_int8_fails_saying_why() -> None:
    broken = gates.Int8Agreement(None, 0, 200, "prod head int8: the model did not load: no quantized engine")
    result = gates.check_int8(env_gates(""), precision="int8", measured=broken, setting=SETTING)
    assert result is not None and (result.passed, result.value) == (False, None)
    assert result.message == (
        "prod: precision is int8 but the head model did not run in int8 (prod head int8: the model did not load: "
        'no quantized engine), so its agreement with fp32 is unknown: it must stay fp32: set precision = "fp32" in '
        "terraform/envs/prod/terraform.tfvars, or fix its code/inference.py"
    )
