"""Names of shared AWS resources: the one source of truth for buckets and state keys.

Bucket names reach Terraform through `-backend-config` and the generated artifacts tfvars file; the
state key of an environment reaches it through `-backend-config=key=...` (`state_key`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

OWNER_TAG = ("hubdeploy:managed-by", "hubdeploy")  # marks buckets hubdeploy created (bootstrap refuses others)


def state_bucket_name(settings: Settings, account_id: str) -> str:
    """Bucket for Terraform state of every environment (one key per env); HUBDEPLOY_STATE_BUCKET overrides."""
    return settings.state_bucket or f"hubdeploy-tfstate-{account_id}-{settings.aws_region}"


def artifact_bucket_name(settings: Settings, account_id: str) -> str:
    """Bucket for model.tar.gz and lambda.zip; shared by envs so a promotion reuses the same bytes."""
    return settings.artifact_bucket or f"hubdeploy-artifacts-{account_id}-{settings.aws_region}"


def state_key(env: str) -> str:
    """S3 key of an environment's Terraform state."""
    return f"envs/{env}/terraform.tfstate"


def stack_name(env: str) -> str:
    """What terraform/root names an env's endpoint, Lambda and the rest (local.name): hubdeploy-<env>."""
    return f"hubdeploy-{env}"
