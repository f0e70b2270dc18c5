"""`hubdeploy prices refresh`: the price table is re-read from the AWS Price List API (botocore's Stubber serving
GetProducts pages in the documented shape, no network), and left untouched whenever the API does not answer well."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hubdeploy.errors import AwsError
from hubdeploy.infra import prices

pytestmark = pytest.mark.unit

PAGES = Path(__file__).parent / "pricing"
EXPECTED_FILTERS = [
    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
    {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
]


def _page(name: str) -> dict[str, Any]:
    return json.loads((PAGES / name).read_text())


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "sagemaker.json"
    shutil.copyfile(prices.default_table_path(), path)
    return path


@pytest.fixture
def pricing() -> Any:
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_refresh_pages_through_get_products_and_records_when_and_where(table: Path, pricing: Any) -> None:
    stub = Stubber(pricing)
    params = {"ServiceCode": "AmazonSageMaker", "Filters": EXPECTED_FILTERS, "FormatVersion": "aws_v1"}
    stub.add_response("get_products", _page("get_products_page1.json"), params)
    stub.add_response("get_products", {**_page("get_products_page2.json")}, {**params, "NextToken": "page-2-token"})
    with stub:
        count, path = prices.refresh_region(pricing, region="us-east-1", path=table, today=dt.date(2026, 12, 2))
    stub.assert_no_pending_responses()
    assert (count, path) == (4, table)
    read = prices.region_prices("us-east-1", path=table)
    assert read is not None
    assert read.hosting_per_hour == {
        "ml.g4dn.xlarge": 0.7364,
        "ml.m5.large": 0.115,
        "ml.m5.xlarge": 0.23,
        "ml.t2.medium": 0.058,
    }
    assert read.verified and read.fetched_at == "2026-12-02"
    assert read.provenance() == "AWS Price List API, us-east-1, read 2026-12-02"
    assert "GetProducts AmazonSageMaker, regionCode=us-east-1" in read.hosting_source
    # serverless prices are not read by this query: kept, with their own (unverified) source
    assert read.serverless_per_gb_second == 0.00002 and "not checked" in read.serverless_source


def test_no_products_is_an_error_and_the_table_is_unchanged(table: Path, pricing: Any) -> None:
    before = table.read_bytes()
    stub = Stubber(pricing)
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []})
    with stub, pytest.raises(AwsError, match="no SageMaker hosting prices for eu-west-9"):
        prices.refresh_region(pricing, region="eu-west-9", path=table)
    assert table.read_bytes() == before


def test_access_denied_names_the_permission_and_the_table_is_unchanged(table: Path, pricing: Any) -> None:
    before = table.read_bytes()
    stub = Stubber(pricing)
    stub.add_client_error("get_products", service_error_code="AccessDeniedException", service_message="not allowed")
    with stub, pytest.raises(AwsError) as caught:
        prices.refresh_region(pricing, region="us-east-1", path=table)
    assert "access denied" in str(caught.value) and "pricing:GetProducts" in str(caught.value)
    assert table.read_bytes() == before


def test_two_prices_for_one_instance_are_refused_not_picked() -> None:
    item = json.loads(_page("get_products_page1.json")["PriceList"][0])
    other = json.loads(json.dumps(item).replace("0.1150000000", "0.2000000000"))
    with pytest.raises(AwsError, match=r"ml.m5.large in us-east-1 two hourly prices \(0.115 and 0.2\)"):
        prices.hosting_prices_from_price_list([json.dumps(item), json.dumps(other)], region="us-east-1")


def test_an_outposts_product_of_the_same_instance_is_not_taken_for_the_regions_price() -> None:
    item = json.loads(_page("get_products_page1.json")["PriceList"][0])
    outposts = json.loads(json.dumps(item).replace("0.1150000000", "0.3000000000"))
    outposts["product"]["attributes"]["locationType"] = "AWS Outposts"
    found = prices.hosting_prices_from_price_list([json.dumps(outposts), json.dumps(item)], region="us-east-1")
    assert found == {"ml.m5.large": 0.115}  # not refused as two prices, not the Outposts one


def test_an_sku_without_instance_name_is_read_from_its_suffixed_instance_type() -> None:
    item = json.loads(_page("get_products_page1.json")["PriceList"][0])
    attributes = item["product"]["attributes"]
    del attributes["instanceName"]
    attributes["instanceType"] = "ml.m5.large-Hosting"
    assert prices.hosting_prices_from_price_list([json.dumps(item)], region="us-east-1") == {"ml.m5.large": 0.115}


def test_the_committed_table_says_where_its_numbers_come_from() -> None:
    table = prices.read_table()
    for region, entry in table["regions"].items():
        read = prices.region_prices(region)
        assert read is not None and read.hosting_per_hour, region
        assert entry["hosting_source"] and entry["serverless_source"]
        # an unverified table must say so wherever its numbers are shown, with the date they were typed
        assert read.verified or (
            "UNVERIFIED" in read.provenance() and f"typed {entry['typed_on']}" in read.provenance()
        )
        assert read.serverless_verified or "UNVERIFIED" in read.provenance(serverless=True)
        assert all(price > 0 for price in read.hosting_per_hour.values())


def test_the_cli_refreshes_through_the_pricing_client(table: Path, pricing: Any, monkeypatch, capsys) -> None:
    from hubdeploy.cli import main
    from hubdeploy.infra import aws

    class _Session:
        def client(self, service: str, **kwargs: Any) -> Any:
            assert service == "pricing" and kwargs["region_name"] == "us-east-1"  # the API's own endpoint
            return pricing

    monkeypatch.setattr(aws, "session", lambda _settings: _Session())
    stub = Stubber(pricing)
    stub.add_response("get_products", _page("get_products_page2.json"))
    with stub:
        assert main(["prices", "refresh", "--region", "us-east-1", "--table", str(table)]) == 0
    assert "2 SageMaker hosting instance prices for us-east-1 written to" in capsys.readouterr().out
