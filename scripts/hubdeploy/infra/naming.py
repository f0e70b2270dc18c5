"""Names of shared AWS resources: the one source of truth for buckets and state keys.

Terraform roots hard-code only their own state key (`envs/<env>/terraform.tfstate`, see
`state_key`); bucket names reach Terraform through `-backend-config` and the generated
artifacts tfvars file.
"""

from __future__ import annotations

import os

# Overrides for users whose naming rules differ (set as GitHub repository variables in CI).
STATE_BUCKET_VAR = "HUBDEPLOY_STATE_BUCKET"
ARTIFACT_BUCKET_VAR = "HUBDEPLOY_ARTIFACT_BUCKET"
OWNER_TAG = ("hubdeploy:managed-by", "hubdeploy")  # marks buckets hubdeploy created (bootstrap refuses others)


def state_bucket_name(account_id: str, region: str) -> str:
    """Bucket for Terraform state of every environment (one key per env)."""
    return os.environ.get(STATE_BUCKET_VAR) or f"hubdeploy-tfstate-{account_id}-{region}"


def artifact_bucket_name(account_id: str, region: str) -> str:
    """Bucket for model.tar.gz and lambda.zip; shared by envs so a promotion reuses the same bytes."""
    return os.environ.get(ARTIFACT_BUCKET_VAR) or f"hubdeploy-artifacts-{account_id}-{region}"


def state_key(env: str) -> str:
    """S3 key of an environment's Terraform state (must match the root's backend block)."""
    return f"envs/{env}/terraform.tfstate"
