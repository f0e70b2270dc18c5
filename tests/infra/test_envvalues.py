"""An env's precision as hubdeploy reads it from terraform/envs/<env>/terraform.tfvars (the one place it is set):
fp32 when the file sets none or null, as Terraform's default; a value Terraform would refuse, or a line this reader
cannot read, is refused instead of being taken for fp32 (an int8 env would then go ungated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubdeploy.errors import UsageError
from hubdeploy.infra.envvalues import configured_precision

pytestmark = pytest.mark.unit


def env_dir(tmp_path: Path, tfvars: str | None) -> Path:
    folder = tmp_path / "terraform" / "envs" / "dev"
    folder.mkdir(parents=True)
    if tfvars is not None:
        (folder / "terraform.tfvars").write_text(tfvars)
    return folder


@pytest.mark.parametrize(
    ("tfvars", "precision"),
    [
        ('precision = "int8"\n', "int8"),
        ('instance_type = "ml.m5.large"\nprecision   = "fp32" # the default\n', "fp32"),
        ('instance_type = "ml.m5.large"\n', "fp32"),
        ("precision = null\n", "fp32"),
        ('tags = {\n  precision = "int8"\n}\n', "fp32"),  # a key inside a map is not the variable
        (None, "fp32"),
    ],
)
def test_the_precision_an_env_selects(tmp_path: Path, tfvars: str | None, precision: str) -> None:
    assert configured_precision(env_dir(tmp_path, tfvars)) == precision


def test_a_value_that_is_not_a_precision_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as bad:
        configured_precision(env_dir(tmp_path, 'precision = "INT8"\n'))
    assert bad.value.message == "terraform/envs/dev/terraform.tfvars: precision = 'INT8' is not one of fp32, int8"
    assert 'precision = "fp32"' in (bad.value.hint or "")


def test_a_precision_line_it_cannot_read_is_refused_rather_than_taken_for_fp32(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as unreadable:
        configured_precision(env_dir(tmp_path, 'precision = lower("INT8")\n'))
    assert unreadable.value.message == (
        "terraform/envs/dev/terraform.tfvars sets precision in a form hubdeploy cannot read"
    )
    assert unreadable.value.hint == 'write it on one line: precision = "fp32" or precision = "int8"'
