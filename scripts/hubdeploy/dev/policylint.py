"""Lint every IAM policy document hubdeploy writes with parliament (`make lint`).

`python -m hubdeploy.dev.policylint` renders the policies of the one-time roots (terraform/github-oidc: the
GitHub roles' trust and permission policies; terraform/account: the stack boundary) by planning a copy of each
offline (local backend, fake credentials, example values: nothing is called), takes the policy JSON from
`terraform show -json`, adds the bucket policies `hubdeploy bootstrap` writes, and runs parliament on each.
Findings of a kind listed in IGNORED (with the reason) are shown but do not fail; any other finding exits 1.
https://github.com/duo-labs/parliament
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
ROOTS = ("terraform/github-oidc", "terraform/account")
POLICY_ATTRIBUTES = ("policy", "assume_role_policy")
EXAMPLE_VARS = {
    "aws_account_id": "123456789012",
    "repository": "my-org/hubdeploy",
    "state_bucket": "hubdeploy-tfstate-123456789012-us-east-1",
    "artifact_bucket": "hubdeploy-artifacts-123456789012-us-east-1",
}
OFFLINE_OVERRIDE = """
terraform {
  backend "local" {}
}
provider "aws" {
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  allowed_account_ids         = null # no account is asked for offline
}
"""
# Findings that are not defects here: (issue, text every matching finding contains) -> why.
IGNORED = {
    ("RESOURCE_STAR", "Describe"): "the refresh reads resources whose ids are generated (user pools, keys, API ids): "
    "read-only actions on *, no data reads",
    ("RESOURCE_STAR", "application-autoscaling:RegisterScalableTarget"): "a scalable target has no ARN before it is "
    "registered; the statement is limited to SageMaker variants (application-autoscaling:service-namespace)",
    ("RESOURCE_MISMATCH", "kms:CreateAlias"): "AWS authorizes an alias call on the alias and on the key separately; "
    "one statement allows the stack's alias names, another the keys tagged with an environment",
    ("MALFORMED", "neither Resource nor NotResource"): "a trust (assume-role) policy names a principal, no resource",
}


def _ignored(line: str) -> str | None:
    return next((why for (issue, text), why in IGNORED.items() if f" {issue} " in line and text in line), None)


def render_policies(root: str, work: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource address, policy document) for each policy attribute a root's plan sets."""
    from hubdeploy.infra.tfcli import run_terraform, terraform_env
    from hubdeploy.settings import Settings

    copy = work / Path(root).name
    shutil.copytree(REPO / root, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf"))
    (copy / "offline_override.tf").write_text(OFFLINE_OVERRIDE)
    names = {name for name in EXAMPLE_VARS if f'variable "{name}"' in (copy / "variables.tf").read_text()}
    (copy / "lint.auto.tfvars.json").write_text(json.dumps({k: EXAMPLE_VARS[k] for k in sorted(names)}))
    env = terraform_env(REPO, Settings.from_env().environ)
    run_terraform(["init", "-input=false", "-no-color"], cwd=copy, env=env)
    run_terraform(["plan", "-input=false", "-no-color", "-refresh=false", "-out=lint.tfplan"], cwd=copy, env=env)
    plan = json.loads(run_terraform(["show", "-json", "lint.tfplan"], cwd=copy, env=env).stdout)
    for resource in plan.get("planned_values", {}).get("root_module", {}).get("resources", []):
        for attribute in POLICY_ATTRIBUTES:
            value = resource.get("values", {}).get(attribute)
            if isinstance(value, str) and value.startswith("{"):
                yield f"{root}: {resource['address']}.{attribute}", json.loads(value)


def bucket_policies() -> Iterator[tuple[str, dict[str, Any]]]:
    from hubdeploy.infra.bootstrap import bucket_policy

    for purpose in ("state", "artifacts"):
        bucket = EXAMPLE_VARS["state_bucket" if purpose == "state" else "artifact_bucket"]
        yield f"hubdeploy bootstrap: {purpose} bucket policy", json.loads(bucket_policy(bucket, purpose=purpose))


def lint(name: str, document: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(failing findings, ignored findings with the reason) of one policy, as one line each."""
    from parliament import analyze_policy_string

    failing, ignored = [], []
    for finding in analyze_policy_string(json.dumps(document)).findings:
        line = f"{name}: {finding.issue} {json.dumps(finding.detail, default=str)}"
        why = _ignored(line)
        if why:
            ignored.append(f"{line[:160]}... ({why})")
        else:
            failing.append(line)
    return failing, ignored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the policies that are linted")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hubdeploy-policylint-") as tmp:
        documents = [doc for root in ROOTS for doc in render_policies(root, Path(tmp))]
    documents += list(bucket_policies())
    failures = []
    for name, document in documents:
        failing, ignored = lint(name, document)
        failures += failing
        for line in ignored:
            print(f"parliament: ignored: {line}")
        if args.list:
            print(f"linted: {name}")
    for line in failures:
        print(f"parliament: {line}", file=sys.stderr)
    print(f"parliament: {len(documents)} policies, {len(failures)} findings")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
