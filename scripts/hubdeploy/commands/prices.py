"""`hubdeploy prices refresh [--region R]`: re-read SageMaker hosting prices from the AWS Price List API into the
price table the PR comment's cost line uses (`hubdeploy/data/prices/sagemaker.json`). Commit the result: the
table's date, region and source travel with it. Needs credentials allowed `pricing:GetProducts`."""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.infra import prices
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prices",
        help="refresh the SageMaker price table from the AWS Price List API",
        description="Replace one region's on-demand real-time hosting prices in the price table with what the AWS "
        "Price List API (GetProducts, AmazonSageMaker) answers; the table is left untouched on any error.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    refresh = actions.add_parser("refresh", help="re-read one region's hosting prices")
    refresh.add_argument("--region", default=None, help="region code, e.g. us-east-1 (default: AWS_REGION)")
    refresh.add_argument("--table", type=Path, default=None, help="price table to update (default: the package's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from botocore.config import Config

    from hubdeploy.infra import aws

    region = args.region or settings.aws_region
    client = aws.session(settings).client(
        "pricing", region_name=prices.PRICING_API_REGION, config=Config(retries={"mode": "standard"})
    )
    count, path = prices.refresh_region(client, region=region, path=args.table)
    print(f"prices: {count} SageMaker hosting instance prices for {region} written to {path}; commit it")
    return 0
