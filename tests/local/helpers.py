"""Helpers for the local-stack tests: tar a tiny model like `hubdeploy build`, deploy it to the emulator
with plain boto3 calls (what Terraform would create: model -> endpoint config -> endpoint)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import boto3

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "local-artifacts"
ROLE = "arn:aws:iam::123456789012:role/endpoint"


def tar_model(model_dir: Path, *, code_dir: Path | None = None) -> bytes:
    """model.tar.gz bytes: model files at the root + code/ (the repo's model/code unless given)."""
    code_dir = code_dir or REPO_ROOT / "model" / "code"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
            tar.add(path, arcname=path.name)
        for path in sorted(p for p in code_dir.iterdir() if p.is_file() and p.suffix in {".py", ".txt"}):
            tar.add(path, arcname=f"code/{path.name}")
    return buf.getvalue()


@dataclass
class Deployer:
    """Deploys artifacts to the emulator the way the Terraform module wires them."""

    endpoint_name: str = "local-test"
    version: int = 0
    last_url: str = ""  # the ModelDataUrl of the last deploy

    def upload(self, data: bytes, *, key: str | None = None) -> tuple[str, str]:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        sha = hashlib.sha256(data).hexdigest()
        key = key or f"models/{sha[:12]}/model.tar.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return f"s3://{BUCKET}/{key}", sha

    def deploy(self, data: bytes, *, tag_sha: str | None = None, environment: dict[str, str] | None = None) -> str:
        """Upload, create model + config, create or update the endpoint; return the recorded sha256."""
        url, sha = self.upload(data)
        self.last_url = url
        sm = boto3.client("sagemaker")
        self.version += 1
        model, config = f"model-{self.version}", f"config-{self.version}"
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:latest",
                "ModelDataUrl": url,
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py", **(environment or {})},
            },
            Tags=[{"Key": "model_artifact_sha256", "Value": tag_sha or sha}],
        )
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        try:
            sm.describe_endpoint(EndpointName=self.endpoint_name)
            sm.update_endpoint(EndpointName=self.endpoint_name, EndpointConfigName=config)
        except sm.exceptions.ClientError as exc:
            if "update" in str(exc).lower():
                raise
            sm.create_endpoint(EndpointName=self.endpoint_name, EndpointConfigName=config)
        return tag_sha or sha


def invoke(endpoint: str, payload: object, *, content_type: str = "application/json") -> tuple[dict, object]:
    """boto3 InvokeEndpoint against the runtime; returns (response metadata headers, parsed body)."""
    client = boto3.client("sagemaker-runtime")
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    resp = client.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type)
    return resp["ResponseMetadata"]["HTTPHeaders"], json.loads(resp["Body"].read())
