"""What the emulated control plane says an endpoint serves: endpoint -> config -> model -> model.tar.gz.

Read exactly as SageMaker would when it (re)creates the endpoint's containers, so the local runtime
serves what Terraform applied, not what the working tree happens to hold.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from hubdeploy.errors import DeploymentFault

HEX64 = re.compile(r"^[0-9a-f]{64}$")
S3_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")


@dataclass(frozen=True)
class Deployment:
    """One endpoint's current serving configuration (first production variant, first container)."""

    endpoint_name: str
    endpoint_config_name: str
    variant_name: str
    model_name: str
    model_data_url: str
    environment: dict[str, str] = field(default_factory=dict)
    model_tags: dict[str, str] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return split_s3_url(self.model_data_url)[0]

    @property
    def key(self) -> str:
        return split_s3_url(self.model_data_url)[1]


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    match = S3_URL.match(url)
    if not match:
        raise DeploymentFault("ValidationError", f"ModelDataUrl {url!r} is not an s3://bucket/key URL", status=400)
    return match["bucket"], match["key"]


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def resolve_deployment(sagemaker: Any, endpoint_name: str, *, account_id: str = "123456789012") -> Deployment:
    """Follow endpoint -> endpoint config -> model through the SageMaker control-plane API.

    Raises:
        DeploymentFault: the endpoint is missing or not InService (SageMaker's ValidationError), or the
            config/model it names is gone or has no model data.
    """
    from botocore.exceptions import ClientError

    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        if _error_code(exc) in {"ValidationException", "ValidationError", "ResourceNotFound"}:
            raise DeploymentFault(
                "ValidationError", f"Endpoint {endpoint_name} of account {account_id} not found.", status=400
            ) from None
        raise
    status = endpoint.get("EndpointStatus", "")
    if status not in {"InService", "Updating"}:  # an updating endpoint keeps serving its old config
        raise DeploymentFault(
            "ValidationError", f"Endpoint {endpoint_name} is in {status} status and cannot serve.", status=400
        )
    config_name = endpoint["EndpointConfigName"]
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError:
        raise DeploymentFault(
            "InternalFailure", f"endpoint config {config_name} of endpoint {endpoint_name} is gone", status=500
        ) from None
    variants = config.get("ProductionVariants") or []
    if not variants:
        raise DeploymentFault("InternalFailure", f"endpoint config {config_name} has no production variant", status=500)
    variant = variants[0]
    model_name = variant["ModelName"]
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except ClientError:
        raise DeploymentFault("InternalFailure", f"model {model_name} of {config_name} is gone", status=500) from None
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    url = container.get("ModelDataUrl") or (container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri"))
    if not url:
        raise DeploymentFault("InternalFailure", f"model {model_name} has no ModelDataUrl", status=500)
    split_s3_url(url)
    try:
        tag_list = sagemaker.list_tags(ResourceArn=model["ModelArn"]).get("Tags", [])
    except ClientError:
        tag_list = []
    return Deployment(
        endpoint_name=endpoint_name,
        endpoint_config_name=config_name,
        variant_name=variant.get("VariantName", "AllTraffic"),
        model_name=model_name,
        model_data_url=url,
        environment=dict(container.get("Environment") or {}),
        model_tags={t["Key"]: t["Value"] for t in tag_list},
    )


def sha256_from_tags(tags: dict[str, str]) -> str | None:
    """The artifact digest a tag set records: a key naming a sha256 with a 64-hex value."""
    for key in sorted(tags):
        value = tags[key].strip().lower()
        if "sha256" in key.lower() and HEX64.match(value) and "lambda" not in key.lower():
            return value
    return None


def expected_sha256(s3: Any, deployment: Deployment) -> tuple[str, str]:
    """What the artifact's sha256 must be, and where that was recorded.

    In order: the model's tags (Terraform copies the published digest there), the S3 object's tags or
    metadata (written by `hubdeploy publish`), its stored full-object SHA256 checksum.

    Raises:
        DeploymentFault: nothing records a digest, so the artifact cannot be verified.
    """
    from botocore.exceptions import ClientError

    found = sha256_from_tags(deployment.model_tags)
    if found:
        return found, f"tags of model {deployment.model_name}"
    bucket, key = deployment.bucket, deployment.key
    try:
        tagging = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
        found = sha256_from_tags({t["Key"]: t["Value"] for t in tagging})
        if found:
            return found, f"tags of {deployment.model_data_url}"
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        raise DeploymentFault(
            "ModelError", f"cannot read {deployment.model_data_url}: {_error_code(exc) or exc}", status=424
        ) from None
    found = sha256_from_tags(head.get("Metadata") or {})
    if found:
        return found, f"metadata of {deployment.model_data_url}"
    checksum = head.get("ChecksumSHA256") or ""
    if checksum and "-" not in checksum:  # "<b64>-<parts>" is a checksum of part checksums, not of the object
        return base64.b64decode(checksum).hex(), f"S3 checksum of {deployment.model_data_url}"
    raise DeploymentFault(
        "ModelError",
        f"no sha256 is recorded for {deployment.model_data_url} (model tags, object tags/metadata, S3 checksum)",
        status=424,
    )
