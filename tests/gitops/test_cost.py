"""The cost line of the PR comment: the endpoint's monthly cost before -> after, from the plan JSON (in the shape
`terraform show -json` writes) and the committed price table; unknown prices are unknown, never $0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hubdeploy.gitops.comment import CommentInput, render_comment
from hubdeploy.gitops.plansummary import PlanSummary, summarize

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _prices(price_table: Callable[..., None]) -> None:
    """Every test here prices from the tests' table (conftest.TEST_PRICES), not the committed one."""


def _config(instance_type: str = "ml.t2.medium", count: int = 1, serverless_mb: int | None = None) -> dict[str, Any]:
    variant: dict[str, Any] = {"variant_name": "AllTraffic", "serverless_config": []}
    if serverless_mb:
        variant["serverless_config"] = [{"memory_size_in_mb": serverless_mb, "max_concurrency": 5}]
        variant.update(instance_type=None, initial_instance_count=None)
    else:
        variant.update(instance_type=instance_type, initial_instance_count=count)
    return {"name": "hubdeploy-dev-1", "production_variants": [variant]}


def _rc(type_: str, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    return {
        "address": f"module.endpoint.{type_}.this",
        "mode": "managed",
        "type": type_,
        "name": "this",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


def _plan(*changes: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    return {"format_version": "1.2", "variables": {"aws_region": {"value": region}}, "resource_changes": list(changes)}


CONFIG = "aws_sagemaker_endpoint_configuration"
SCALING = "aws_appautoscaling_target"


def test_a_first_deploy_costs_from_nothing_to_its_instances() -> None:
    cost = summarize(_plan(_rc(CONFIG, ["create"], None, _config()))).cost
    assert cost is not None and cost.before is None
    # 0.056 $/h x 1 x 730 h = $40.88
    assert cost.after is not None and cost.after.low == pytest.approx(40.88)
    assert cost.line() == "nothing → $41/month (1 x ml.t2.medium at $0.056/h x 730 h), +$41"


def test_an_instance_type_change_shows_before_after_and_the_difference() -> None:
    plan = _plan(_rc(CONFIG, ["create", "delete"], _config("ml.t2.medium"), _config("ml.m5.large")))
    cost = summarize(plan).cost
    assert cost is not None
    assert cost.line() == (
        "$41/month (1 x ml.t2.medium at $0.056/h x 730 h) → $84/month (1 x ml.m5.large at $0.115/h x 730 h), +$43"
    )


def test_autoscaling_is_a_min_max_range_and_an_unchanged_env_says_so() -> None:
    scaling = {"min_capacity": 2, "max_capacity": 6}
    plan = _plan(
        _rc(CONFIG, ["no-op"], _config("ml.m5.xlarge", 2), _config("ml.m5.xlarge", 2)),
        _rc(SCALING, ["no-op"], scaling, scaling),
    )
    cost = summarize(plan).cost
    assert cost is not None
    # 0.23 x 730 = 167.9 per instance: 2 -> $335.80, 6 -> $1,007.40
    assert (cost.after.low, cost.after.high) == pytest.approx((335.8, 1007.4))  # type: ignore[union-attr]
    assert cost.line() == "$336-$1,007/month (2-6 x ml.m5.xlarge (autoscaling) at $0.23/h x 730 h), unchanged"


def test_raising_max_capacity_moves_only_the_top_of_the_range() -> None:
    plan = _plan(
        _rc(CONFIG, ["no-op"], _config("ml.m5.xlarge", 2), _config("ml.m5.xlarge", 2)),
        _rc(SCALING, ["update"], {"min_capacity": 2, "max_capacity": 6}, {"min_capacity": 2, "max_capacity": 8}),
    )
    cost = summarize(plan).cost
    assert cost is not None and cost.line().endswith(", +$0 to +$336")


def test_an_instance_type_missing_from_the_table_is_unknown_never_zero() -> None:
    plan = _plan(_rc(CONFIG, ["create", "delete"], _config("ml.t2.medium"), _config("ml.c7i.large")))
    cost = summarize(plan).cost
    assert cost is not None and cost.after is not None and cost.after.low is None
    line = cost.line()
    assert "unknown (1 x ml.c7i.large: not in the price table, run `hubdeploy prices refresh`)" in line
    assert "$0/month" not in line and "+$" not in line  # no zero, and no difference made up from an unknown


def test_a_region_without_prices_is_unknown() -> None:
    cost = summarize(_plan(_rc(CONFIG, ["create"], None, _config()), region="eu-north-1")).cost
    assert cost is not None and cost.after is not None and cost.after.low is None
    assert "no prices for region eu-north-1" in cost.line()


def test_serverless_is_estimated_per_request_under_the_stated_assumption() -> None:
    cost = summarize(_plan(_rc(CONFIG, ["create"], None, _config(serverless_mb=2048)))).cost
    assert cost is not None and cost.after is not None
    # 2 GB x 0.1 s x 1,000,000 requests x $0.00002 per GB-second = $4.00
    assert cost.after.low == pytest.approx(4.0)
    assert "serverless 2048 MB, 1,000,000 requests a month of 100 ms each, compute only" in cost.line()


def test_a_destroy_goes_to_nothing() -> None:
    cost = summarize(_plan(_rc(CONFIG, ["delete"], _config(), None))).cost
    assert cost is not None and cost.line().endswith("→ nothing (destroyed), -$41")


def test_a_plan_without_an_endpoint_has_no_cost_line() -> None:
    assert summarize(_plan(_rc("aws_s3_bucket", ["create"], None, {"bucket": "b"}))).cost is None


def test_the_cost_survives_summary_json_and_reaches_the_comment_with_its_source() -> None:
    summary = summarize(_plan(_rc(CONFIG, ["create"], None, _config())))
    again = PlanSummary.from_json(summary.to_json())
    assert again.cost == summary.cost
    body = render_comment(
        CommentInput(env="dev", workflow="pr", summary=again, plan_text="plan", plan_hash="h", commit="c" * 40)
    )
    assert "**Cost:** nothing → $41/month (1 x ml.t2.medium at $0.056/h x 730 h), +$41" in body
    assert "Prices: us-east-1, typed 2026-12-02 from the SageMaker pricing page, UNVERIFIED" in body
    assert "Lambda, API Gateway, logs, KMS and S3 are billed per use and not included" in body


def test_refreshed_hosting_prices_show_their_read_date_and_no_unverified_marker(
    price_table: Callable[..., None],
) -> None:
    price_table(verified=True, fetched_at="2026-12-03")
    cost = summarize(_plan(_rc(CONFIG, ["create"], None, _config()))).cost
    assert cost is not None
    assert cost.provenance == "AWS Price List API, us-east-1, read 2026-12-03"


def test_a_serverless_estimate_says_its_price_is_unverified_even_after_a_hosting_refresh(
    price_table: Callable[..., None],
) -> None:
    price_table(verified=True, fetched_at="2026-12-03")
    plan = _plan(_rc(CONFIG, ["create", "delete"], _config("ml.t2.medium"), _config(serverless_mb=2048)))
    cost = summarize(plan).cost
    assert cost is not None
    assert cost.provenance == (
        "AWS Price List API, us-east-1, read 2026-12-03; serverless price typed 2026-12-02 from the pricing page, "
        "UNVERIFIED (`prices refresh` reads hosting only)"
    )
    # from one instance to serverless under the stated assumption: $40.88 -> $4.00
    assert cost.line().endswith(", -$37")


def test_a_serverless_config_without_a_serverless_price_is_unknown(price_table: Callable[..., None]) -> None:
    price_table(serverless_per_gb_second=None)
    cost = summarize(_plan(_rc(CONFIG, ["create"], None, _config(serverless_mb=2048)))).cost
    assert cost is not None and cost.after is not None and cost.after.low is None
    assert cost.line() == "nothing → unknown (no serverless price in the table)"
    assert "serverless price" not in cost.provenance  # no source claimed for a price the table lacks


def test_without_an_aws_region_variable_the_region_is_the_aws_providers() -> None:
    # in the shape `terraform show -json` gives a provider block: a constant, or a reference to a variable
    constant = {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}}
    by_var = {"aws": {"name": "aws", "expressions": {"region": {"references": ["var.region"]}}}}
    for provider_config, variables in ((constant, {}), (by_var, {"region": {"value": "us-east-1"}})):
        plan = {
            "variables": variables,
            "configuration": {"provider_config": provider_config},
            "resource_changes": [_rc(CONFIG, ["create"], None, _config())],
        }
        cost = summarize(plan).cost
        assert cost is not None and cost.line().startswith("nothing → $41/month"), provider_config
