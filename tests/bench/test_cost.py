"""The cost-per-million-sentences estimate: prod's instance type, its vCPUs and its price each come from their one
source, and the arithmetic is the one the note states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import cost
from hubdeploy.errors import UsageError

pytestmark = pytest.mark.unit


def _env(tmp_path: Path, tfvars: str) -> Path:
    env_dir = tmp_path / "prod"
    env_dir.mkdir()
    (env_dir / "terraform.tfvars").write_text(tfvars)
    return env_dir


def test_the_default_prod_instance_is_the_one_its_tfvars_names_with_the_committed_tables_facts():
    instance = cost.prod_instance()

    assert (instance.instance_type, instance.region, instance.vcpus) == ("ml.m5.xlarge", "us-east-1", 4)
    assert instance.usd_per_hour == 0.23
    assert "UNVERIFIED" in instance.price_provenance  # the committed table was typed by hand


def test_another_instance_type_in_tfvars_is_priced_as_that_type(tmp_path):
    env_dir = _env(
        tmp_path, 'aws_region = "us-east-1"\n# instance_type = "ml.t2.medium"\ninstance_type = "ml.m5.large"\n'
    )

    instance = cost.prod_instance(env_dir)

    assert (instance.instance_type, instance.vcpus, instance.usd_per_hour) == ("ml.m5.large", 2, 0.115)


def test_an_instance_type_the_price_table_lacks_is_refused_with_what_to_do(tmp_path):
    env_dir = _env(tmp_path, 'aws_region = "us-east-1"\ninstance_type = "ml.m5.xlarge"\n')
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"regions": {"us-east-1": {"hosting_per_hour": {"ml.m5.large": 0.115}}}}))

    with pytest.raises(UsageError, match=r"no price for ml\.m5\.xlarge in us-east-1") as raised:
        cost.prod_instance(env_dir, prices_path=prices)
    assert "prices refresh" in raised.value.hint


def test_an_env_without_an_instance_type_is_refused(tmp_path):
    with pytest.raises(UsageError, match="sets no instance_type"):
        cost.prod_instance(_env(tmp_path, 'aws_region = "us-east-1"\n'))


def test_dollars_per_million_sentences_is_the_hourly_price_over_an_hours_sentences():
    instance = cost.Instance("ml.m5.xlarge", "us-east-1", vcpus=4, usd_per_hour=0.36, price_provenance="test")

    # 2.5 sentences/s per vCPU x 4 vCPUs = 10/s = 36,000 an hour for $0.36: $10 per million
    assert cost.per_million(2.5, instance) == pytest.approx(10.0)
