"""The root wires terraform/root/request-limits.json into a plan: the env's instance type (or serverless memory
size) picks the Lambda's MAX_TEXTS/MAX_TEXT_CHARS/MAX_BODY_BYTES, its timeout, and the model container's
worker and thread settings; a type the table does not list fails at plan saying what to change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.request_limits import load_table
from hubdeploy.errors import TerraformError
from hubdeploy.infra import envroot

pytestmark = pytest.mark.terraform

ENV = "staging"  # ml.m5.large in its terraform.tfvars
TABLE = load_table()
MODEL = "module.endpoint.aws_sagemaker_model.this"
FUNCTION = "module.api.aws_lambda_function.this"


@pytest.fixture(scope="module")
def staging(stack, tiny_model_dir: Path) -> envroot.EnvRoot:
    stack.pin(ENV, stack.cache_model(tiny_model_dir))
    stack.publish(ENV)
    root = stack.root(ENV)
    envroot.init(root, state_bucket=stack.state_bucket, region="us-east-1")
    return root


def planned(root: envroot.EnvRoot, variables: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """{address: after-values} of a first plan."""
    plan = envroot.plan(root, out=root.path / "limits.tfplan", variables=variables)
    doc = envroot.show_json(root, plan.path)
    return {c["address"]: c["change"]["after"] for c in doc["resource_changes"]}


def assert_sized_for(resources: dict[str, dict[str, Any]], key: str) -> None:
    derived = TABLE["derived"][key]
    (container,) = resources[MODEL]["primary_container"]
    env = container["environment"]
    assert {k: env[k] for k in derived["container_environment"]} == derived["container_environment"]
    assert env["SAGEMAKER_PROGRAM"] == "inference.py", "the module's own variables are kept"
    function = resources[FUNCTION]
    (lambda_env,) = function["environment"]
    limits = derived["limits"]
    assert lambda_env["variables"]["MAX_TEXTS"] == str(limits["max_texts"])
    assert lambda_env["variables"]["MAX_TEXT_CHARS"] == str(limits["max_text_chars"])
    assert lambda_env["variables"]["MAX_BODY_BYTES"] == str(limits["max_body_bytes"])
    assert function["timeout"] == TABLE["timeouts"]["lambda_timeout_seconds"]
    assert "ENDPOINT_TIMEOUT_SECONDS" not in lambda_env["variables"], "the handler's read timeout is the table's"


def test_staging_gets_the_limits_and_layout_of_its_instance_type(staging):
    resources = planned(staging)
    assert (
        resources["module.endpoint.aws_sagemaker_endpoint_configuration.this"]["production_variants"][0][
            "instance_type"
        ]
        == "ml.m5.large"
    )
    assert_sized_for(resources, "ml.m5.large")
    env = resources[MODEL]["primary_container"][0]["environment"]
    # one core, two hyperthreads: one worker with both, not the model server's one worker per vCPU
    assert (env["SAGEMAKER_MODEL_SERVER_WORKERS"], env["HUBDEPLOY_NUM_THREADS"]) == ("1", "2")


def test_a_small_burstable_instance_gets_its_own_row(staging):
    # dev's provisioned default candidate: two whole cores, one worker each
    assert_sized_for(planned(staging, {"instance_type": "ml.t2.medium", "blue_green": None}), "ml.t2.medium")


def test_serverless_is_sized_by_its_memory(staging):
    serverless = {"memory_size_in_mb": 3072, "max_concurrency": 2}
    slim_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hubdeploy-slim:1"  # serverless needs one
    resources = planned(staging, {"serverless": serverless, "blue_green": None, "image_uri": slim_image})
    assert_sized_for(resources, "serverless-3072")


def test_an_instance_type_missing_from_the_table_fails_at_plan_saying_what_to_change(staging):
    with pytest.raises(TerraformError) as failure:
        envroot.plan(staging, out=staging.path / "bad.tfplan", variables={"instance_type": "ml.r5.large"})
    line = failure.value.one_line()
    assert "No request limits for ml.r5.large in terraform/root/request-limits.json" in line
    assert "python -m bench.request_limits" in line and "ml.m5.large" in line
    assert "\n" not in line
