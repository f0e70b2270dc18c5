"""Record what an endpoint serves before an apply, and point it back there when the smoke test fails.

Terraform replaces endpoint configs create-before-destroy, so after a successful apply the previous
config and model are usually already deleted. The record therefore keeps their full definitions:
rollback re-creates whatever is gone (same names, same artifact in S3), then UpdateEndpoint points the
endpoint back at the previous config and waits for InService. Terraform's state then differs from AWS
on purpose; the next plan shows it, and fixing forward is a normal PR.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubdeploy.errors import AwsError, RollbackError, UsageError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.infra import aws

log = logging.getLogger(__name__)

RECORD_VERSION = 1
# Fields of Describe* answers that CreateModel / CreateEndpointConfig accept back.
MODEL_FIELDS = ("PrimaryContainer", "Containers", "InferenceExecutionConfig", "ExecutionRoleArn", "VpcConfig")
MODEL_FLAGS = ("EnableNetworkIsolation",)
CONFIG_FIELDS = ("ProductionVariants", "DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "ExplainerConfig")
VARIANT_DROP = ("CurrentWeight", "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount", "DeployedImages")


def _not_found(exc: BaseException) -> bool:
    text = str(exc)
    return aws.is_code(exc, "ValidationException", "ResourceNotFound") and (
        "Could not find" in text or "does not exist" in text or "not found" in text.lower()
    )


def _tags(sagemaker: Any, arn: str | None) -> list[dict[str, str]]:
    if not arn:
        return []
    try:
        return list(sagemaker.list_tags(ResourceArn=arn).get("Tags") or [])
    except Exception as exc:  # tags are nice to have on a re-created resource, never a reason to fail
        log.debug("no tags for %s: %s", arn, exc)
        return []


def record_endpoint(sagemaker: Any, *, env: str, endpoint_name: str | None) -> dict[str, Any]:
    """What `endpoint_name` serves right now: its config and model definitions (None if no endpoint)."""
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "env": env,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "endpoint_name": endpoint_name,
        "endpoint_config": None,
        "models": [],
    }
    if not endpoint_name:
        return record
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except Exception as exc:
        if _not_found(exc):
            log.info("%s: endpoint %s does not exist yet: nothing to roll back to", env, endpoint_name)
            return record
        raise aws.translate(exc, f"describe endpoint {endpoint_name}") or exc from None
    config_name = endpoint["EndpointConfigName"]
    with aws.aws_errors(f"describe endpoint config {config_name}"):
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    record["endpoint_config"] = {
        "EndpointConfigName": config_name,
        **{k: config[k] for k in CONFIG_FIELDS if config.get(k)},
        "Tags": _tags(sagemaker, config.get("EndpointConfigArn")),
    }
    for variant in config.get("ProductionVariants") or []:
        name = variant.get("ModelName")
        if not name or any(m["ModelName"] == name for m in record["models"]):
            continue
        with aws.aws_errors(f"describe model {name}"):
            model = sagemaker.describe_model(ModelName=name)
        record["models"].append(
            {
                "ModelName": name,
                **{k: model[k] for k in MODEL_FIELDS if model.get(k)},
                **{k: model[k] for k in MODEL_FLAGS if k in model},
                "Tags": _tags(sagemaker, model.get("ModelArn")),
            }
        )
    return record


def save_record(path: Path, record: dict[str, Any]) -> None:
    atomic_write_json(path, record)


def load_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"no endpoint record at {path}", hint="run `hubdeploy record-endpoint --env ENV --out FILE` before apply"
        ) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON ({exc})", hint="re-record it before the next apply") from None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        raise UsageError(f"{path} is not a hubdeploy endpoint record", hint="re-record it before the next apply")
    return record


@dataclass(frozen=True)
class RollbackResult:
    endpoint_name: str
    from_config: str | None
    to_config: str
    recreated: tuple[str, ...]
    seconds: float


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except Exception as exc:
        if _not_found(exc):
            return False
        raise aws.translate(exc, "look up a SageMaker resource") or exc from None


def _strip_variant(variant: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variant.items() if k not in VARIANT_DROP}


def wait_in_service(
    sagemaker: Any, endpoint_name: str, *, timeout: float, poll: float, sleep: Callable[[float], None] = time.sleep
) -> str:
    """Poll until the endpoint is InService (or Failed / timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        with aws.aws_errors(f"describe endpoint {endpoint_name}"):
            described = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        status = described.get("EndpointStatus", "?")
        if status == "InService":
            return str(described.get("EndpointConfigName"))
        if status == "Failed":
            raise RollbackError(
                f"endpoint {endpoint_name} failed during rollback: {described.get('FailureReason', 'no reason given')}",
                hint="inspect the endpoint in the SageMaker console; fix forward with a PR",
            )
        if time.monotonic() > deadline:
            raise RollbackError(
                f"endpoint {endpoint_name} still {status} after {timeout:.0f} s",
                hint="it may still finish: check the console, then re-run hubdeploy smoke",
            )
        log.info("waiting for %s: %s", endpoint_name, status)
        sleep(poll)


def rollback(
    sagemaker: Any,
    record: dict[str, Any],
    *,
    timeout: float = 1800.0,
    poll: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RollbackResult:
    """Point the recorded endpoint back at its recorded config, re-creating config/models if deleted."""
    started = time.monotonic()
    name = record.get("endpoint_name")
    config = record.get("endpoint_config")
    if not name or not config:
        raise RollbackError(
            f"{record.get('env')}: no previous endpoint configuration recorded (first deploy of this endpoint)",
            hint="nothing to roll back to: fix forward with a PR, or destroy the environment",
        )
    target = config["EndpointConfigName"]
    with aws.aws_errors(f"describe endpoint {name}"):
        current = sagemaker.describe_endpoint(EndpointName=name)
    serving = current.get("EndpointConfigName")
    if serving == target:
        log.info("%s already serves %s: nothing to do", name, target)
        return RollbackResult(name, serving, target, (), time.monotonic() - started)
    recreated: list[str] = []
    for model in record.get("models") or []:
        if not _exists(functools.partial(sagemaker.describe_model, ModelName=model["ModelName"])):
            with aws.aws_errors(f"re-create model {model['ModelName']}"):
                sagemaker.create_model(**{k: v for k, v in model.items() if v or k in MODEL_FLAGS})
            recreated.append(f"model {model['ModelName']}")
    if not _exists(lambda: sagemaker.describe_endpoint_config(EndpointConfigName=target)):
        args = {k: v for k, v in config.items() if v}
        args["ProductionVariants"] = [_strip_variant(v) for v in config["ProductionVariants"]]
        with aws.aws_errors(f"re-create endpoint config {target}"):
            sagemaker.create_endpoint_config(**args)
        recreated.append(f"endpoint config {target}")
    try:
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=target)
    except Exception as exc:
        error = aws.translate(exc, f"update endpoint {name} to {target}")
        raise RollbackError(
            f"UpdateEndpoint {name} -> {target} failed: {error.one_line() if isinstance(error, AwsError) else exc}",
            hint="the apply role needs sagemaker:UpdateEndpoint; otherwise fix forward with a PR",
        ) from None
    now_serving = wait_in_service(sagemaker, name, timeout=timeout, poll=poll, sleep=sleep)
    if now_serving != target:
        raise RollbackError(f"{name} serves {now_serving} after rollback, expected {target}", hint="check the console")
    return RollbackResult(name, serving, target, tuple(recreated), time.monotonic() - started)
