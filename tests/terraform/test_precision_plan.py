"""`precision` in a plan: an fp32 env (what every env commits) puts nothing into the model's container environment,
so its model is the one it was before the setting existed; int8 adds HUBDEPLOY_PRECISION=int8 (a new model, as a
pin change makes one); int8 on a GPU or accelerator instance type, or a value that is not a precision, fails at
plan saying what to change; serverless (CPU only) accepts int8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.request_limits import load_table
from hubdeploy.errors import TerraformError
from hubdeploy.infra import envroot
from hubdeploy.infra.envvalues import configured_string

pytestmark = pytest.mark.terraform

ENV = "dev"  # ml.t2.medium in its terraform.tfvars
MODEL = "module.endpoint.aws_sagemaker_model.this"
# What the module itself puts into every container (main.tf's container_environment)
MODULE_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    "SAGEMAKER_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def dev(stack, tiny_model_dir: Path) -> envroot.EnvRoot:
    stack.pin(ENV, stack.cache_model(tiny_model_dir))
    stack.publish(ENV)
    root = stack.root(ENV)
    envroot.init(root, state_bucket=stack.state_bucket, region="us-east-1")
    return root


def model(root: envroot.EnvRoot, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The planned SageMaker model's after-values of a first plan."""
    plan = envroot.plan(root, out=root.path / "precision.tfplan", variables=variables)
    doc = envroot.show_json(root, plan.path)
    return next(c["change"]["after"] for c in doc["resource_changes"] if c["address"] == MODEL)


def refusal(root: envroot.EnvRoot, variables: dict[str, Any]) -> str:
    with pytest.raises(TerraformError) as failure:
        envroot.plan(root, out=root.path / "bad.tfplan", variables=variables)
    assert not (root.path / "bad.tfplan").exists()
    line = failure.value.one_line()
    assert "\n" not in line
    return line


@pytest.fixture(scope="module")
def fp32_model(dev: envroot.EnvRoot) -> dict[str, Any]:
    return model(dev)


def test_every_committed_env_selects_fp32(repo_root: Path) -> None:
    envs = repo_root / "terraform" / "envs"
    assert {env: configured_string(envs / env, "precision") for env in ("dev", "staging", "prod")} == dict.fromkeys(
        ("dev", "staging", "prod"), "fp32"
    )


def test_an_fp32_env_puts_no_precision_into_the_container(fp32_model: dict[str, Any]) -> None:
    (container,) = fp32_model["primary_container"]
    sizing = load_table()["derived"]["ml.t2.medium"]["container_environment"]
    # exactly what the env had before precision existed: the module's variables and the instance's sizing
    assert container["environment"] == {**MODULE_ENVIRONMENT, **sizing}


def test_int8_sets_the_container_variable_and_makes_a_new_model(
    dev: envroot.EnvRoot, fp32_model: dict[str, Any]
) -> None:
    int8 = model(dev, {"precision": "int8"})
    (container,) = int8["primary_container"]
    assert container["environment"]["HUBDEPLOY_PRECISION"] == "int8"
    assert int8["name"] != fp32_model["name"], "the environment is part of the model's name: a new model"
    # null is the default, fp32: the same model as the committed value
    assert model(dev, {"precision": None})["name"] == fp32_model["name"]


def test_int8_on_a_gpu_instance_type_is_refused_saying_what_to_change(dev: envroot.EnvRoot) -> None:
    line = refusal(dev, {"precision": "int8", "instance_type": "ml.g5.xlarge"})
    assert 'precision = "int8" runs on CPU only, but ml.g5.xlarge is a GPU or accelerator instance type' in line
    assert 'set precision = "fp32" (or remove the precision line' in line
    assert "choose a CPU instance type such as ml.m5.xlarge" in line


def test_a_value_that_is_not_a_precision_is_refused(dev: envroot.EnvRoot) -> None:
    assert 'precision must be "fp32" or "int8"' in refusal(dev, {"precision": "int4"})


def test_serverless_has_no_gpu_and_accepts_int8(dev: envroot.EnvRoot) -> None:
    slim_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hubdeploy-slim:1"  # serverless needs one
    # instance_type names a GPU type, but serverless ignores it: still CPU
    serverless = {"memory_size_in_mb": 3072, "max_concurrency": 2}
    variables = {"precision": "int8", "serverless": serverless, "image_uri": slim_image}
    (container,) = model(dev, {**variables, "instance_type": "ml.g5.xlarge"})["primary_container"]
    assert container["environment"]["HUBDEPLOY_PRECISION"] == "int8"


# SageMaker's hosting instance families (ProductionVariantInstanceType in botocore's service model), sorted by hand.
ACCELERATED = {
    # NVIDIA GPUs
    *("p2", "p3", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200"),
    *("g4dn", "g5", "g6", "g6e", "g7", "g7e"),
    *("inf1", "inf2", "trn1", "trn1n", "trn2", "dl1"),  # Inferentia, Trainium, Gaudi
}
CPU = {
    *("t2", "m4", "m5", "m5d", "m6i", "m7i", "c4", "c5", "c5d", "c6i", "c6in", "c7i", "r5", "r5d", "r6i", "r7i"),
    *("m6g", "m6gd", "m8g", "c6g", "c6gd", "c6gn", "c7g", "c8g", "r6g", "r6gd", "r7gd", "r8g"),  # Graviton
}


def test_the_int8_rule_refuses_exactly_the_gpu_and_accelerator_families_sagemaker_hosts() -> None:
    import re

    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("sagemaker", "service-2")
    types = model["shapes"]["ProductionVariantInstanceType"]["enum"]
    variables = (Path(__file__).resolve().parents[2] / "terraform/modules/sagemaker-endpoint/variables.tf").read_text()
    rule = re.search(r'var\.precision != "int8" .*?regex\("([^"]+)", var\.instance_type\)', variables)
    assert rule, "the int8 rule of precision's validation"
    pattern = re.compile(rule.group(1).replace("\\\\", "\\"))
    families = {t.split(".")[1] for t in types}
    unsorted = families - ACCELERATED - CPU
    assert not unsorted, f"new instance families: sort them into ACCELERATED or CPU: {unsorted}"
    refused = {t.split(".")[1] for t in types if pattern.match(t)}
    assert refused == ACCELERATED & families
