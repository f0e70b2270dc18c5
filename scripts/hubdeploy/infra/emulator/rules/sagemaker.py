"""SageMaker rules: what CreateEndpointConfig / CreateEndpoint / UpdateEndpoint refuse on real AWS.

Every check runs before moto's (shimmed) handler of its action, through one dispatcher patched on
`SageMakerResponse.call_action`, and raises moto's own `ValidationError` (HTTP 400 ValidationException,
what boto3 and the Terraform provider see from AWS).

Where AWS documents a restriction without naming the call that enforces it (serverless exclusions),
the emulator refuses the first call that combines the two: CreateEndpointConfig, which names both the
model and the serverless variant.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hubdeploy.infra.emulator.patching import patch
from hubdeploy.infra.emulator.rules import rule

# Hosting instance types with NVMe instance storage (the same pattern as the module's
# local.instance_storage_pattern in terraform/modules/sagemaker-endpoint/main.tf; a test keeps them equal):
# families with a "d" after the generation (c5d, m5d, r5d, m6gd, r7gd, g4dn, p3dn, p4d, p4de) and the
# accelerator families whose NVMe storage the name does not show.
INSTANCE_STORAGE = re.compile(
    r"^ml\.([a-z]+[0-9]+[a-z]*d[a-z]*|g5|g6|g6e|g7|g7e|p5|p5e|p5en|p6-b200|p6-b300|p6e-gb200|trn1|trn1n|trn2|dl1)\."
)
# AWS's stock Hugging Face inference DLC repository (any region's registry).
STOCK_HF_IMAGE = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/huggingface-pytorch-inference[:@]"
)

Check = Callable[[Any], None]
# action (snake_case, as moto names its handlers) -> checks run before the handler
_CHECKS: dict[str, dict[str, Check]] = {}


def _install(action: str, name: str, check: Check) -> None:
    """Register `check` for `action` and make sure the dispatcher is in place (patch is idempotent)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import camelcase_to_underscores
    from moto.sagemaker.exceptions import SagemakerClientError
    from moto.sagemaker.responses import SageMakerResponse

    _CHECKS.setdefault(action, {})[name] = check
    original = SageMakerResponse.call_action

    def call_action(self: SageMakerResponse) -> Any:
        for strict_check in _CHECKS.get(camelcase_to_underscores(self._get_action()), {}).values():
            try:
                strict_check(self)
            except SagemakerClientError as refused:  # serialised as moto's handlers' errors are
                status, headers, body = self.serialized(ActionResult(refused))
                headers, body = self._enrich_response(headers, body)
                return status, headers, body
        return original(self)

    patch(SageMakerResponse, "call_action", call_action)


def _refuse(message: str) -> None:
    from moto.sagemaker.exceptions import ValidationError

    raise ValidationError(message=message)


def _variant_models(response: Any, variants: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """(variant, moto model or None) for each production variant of a request."""
    models = response.sagemaker_backend._models
    return [(variant, models.get(variant.get("ModelName"))) for variant in variants or []]


def _image(model: Any) -> str:
    container = getattr(model, "primary_container", None) or {}
    return str(container.get("Image") or "")


@rule(
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions"
)
def serverless_refuses_network_isolation() -> None:
    """Serverless endpoints do not support network isolation (nor VPC configuration): a serverless variant
    whose model has EnableNetworkIsolation cannot be deployed."""

    def check(response: Any) -> None:
        for variant, model in _variant_models(response, response._get_param("ProductionVariants")):
            if (
                variant.get("ServerlessConfig")
                and model is not None
                and getattr(model, "enable_network_isolation", False)
            ):
                _refuse(
                    f"Network isolation is not supported for serverless endpoints: model '{model.model_name}' of "
                    f"variant '{variant.get('VariantName')}' has EnableNetworkIsolation set."
                )

    _install("create_endpoint_config", "serverless_refuses_network_isolation", check)


@rule(
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-container"
)
def serverless_refuses_stock_hf_image() -> None:
    """A serverless endpoint's container image is limited to 10 GB. AWS's stock Hugging Face PyTorch inference
    DLC is not built for that limit (its size is not published per tag, and hubdeploy does not rely on it
    fitting), so the emulator refuses it on a serverless variant, as hubdeploy's plan does: serverless takes a
    slim image of your own."""

    def check(response: Any) -> None:
        for variant, model in _variant_models(response, response._get_param("ProductionVariants")):
            if variant.get("ServerlessConfig") and model is not None and STOCK_HF_IMAGE.match(_image(model)):
                _refuse(
                    f"Image '{_image(model)}' of model '{model.model_name}' is not supported for serverless "
                    "inference: serverless container images are limited to 10 GB; use a slim image."
                )

    _install("create_endpoint_config", "serverless_refuses_stock_hf_image", check)


@rule(
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html#sagemaker-CreateEndpointConfig-request-KmsKeyId"
)
def kms_key_refused_for_instance_storage() -> None:
    """Local (NVMe) instance storage is encrypted by a hardware module: CreateEndpointConfig fails when
    KmsKeyId is set and a variant uses an instance type with local storage."""

    def check(response: Any) -> None:
        if not response._get_param("KmsKeyId"):
            return
        for variant in response._get_param("ProductionVariants") or []:
            instance_type = str(variant.get("InstanceType") or "")
            if INSTANCE_STORAGE.match(instance_type):
                _refuse(
                    f"KmsKeyId is not supported for instance type {instance_type} (variant "
                    f"'{variant.get('VariantName')}'): its local instance storage is encrypted in hardware."
                )

    _install("create_endpoint_config", "kms_key_refused_for_instance_storage", check)


@rule(doc="https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html")
def volume_size_refused_for_instance_storage() -> None:
    """Instance types with NVMe instance storage have a fixed storage size: a variant may not set
    VolumeSizeInGB for them (only EBS-backed instance types take it)."""

    def check(response: Any) -> None:
        for variant in response._get_param("ProductionVariants") or []:
            instance_type = str(variant.get("InstanceType") or "")
            if variant.get("VolumeSizeInGB") is not None and INSTANCE_STORAGE.match(instance_type):
                _refuse(
                    f"VolumeSizeInGB is not supported for instance type {instance_type} (variant "
                    f"'{variant.get('VariantName')}'): it uses NVMe instance storage of a fixed size."
                )

    _install("create_endpoint_config", "volume_size_refused_for_instance_storage", check)


def _role_permits(response: Any, role_arn: str, action: str, resource: str) -> bool:
    """Whether the role's inline and attached managed policies allow `action` on `resource` (no Deny), and
    its permissions boundary, if it has one, allows it too (the emulator's one policy evaluator)."""
    from moto.iam.exceptions import NotFoundException
    from moto.utilities.utils import get_partition

    from hubdeploy.infra.emulator import authz, policyeval

    try:
        documents, boundary = authz.role_policies(response.current_account, get_partition(response.region), role_arn)
    except NotFoundException:  # no such role, or its boundary policy is gone
        return False
    if policyeval.evaluate(documents, action, resource, {}).decision != "allow":
        return False
    return boundary is None or policyeval.evaluate([boundary], action, resource, {}).decision == "allow"


@rule(doc="https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html")
def rollback_alarms_need_describe_alarms() -> None:
    """Auto-rollback alarms are read with the execution role of the endpoint configuration's model(s):
    CreateEndpoint / UpdateEndpoint with AutoRollbackConfiguration alarms fail unless that role may
    cloudwatch:DescribeAlarms on each alarm."""

    def check(response: Any) -> None:
        config = response._get_param("DeploymentConfig")
        if not config and response._get_param("RetainDeploymentConfig"):
            endpoint = response.sagemaker_backend.endpoints.get(response._get_param("EndpointName"))
            config = endpoint.__dict__.get("last_deployment_config") if endpoint else None
        alarms = [a.get("AlarmName") for a in ((config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
        if not alarms:
            return
        endpoint_config = response.sagemaker_backend.endpoint_configs.get(response._get_param("EndpointConfigName"))
        if endpoint_config is None:
            return  # moto's handler reports the missing configuration
        partition = "aws-cn" if response.region.startswith("cn-") else "aws"
        for _variant, model in _variant_models(response, endpoint_config.production_variants):
            if model is None:
                continue
            for alarm in alarms:
                arn = f"arn:{partition}:cloudwatch:{response.region}:{response.current_account}:alarm:{alarm}"
                if not _role_permits(response, model.execution_role_arn, "cloudwatch:DescribeAlarms", arn):
                    _refuse(
                        f"The execution role {model.execution_role_arn} of model '{model.model_name}' is not "
                        f"authorized to perform cloudwatch:DescribeAlarms on {arn}, which the "
                        "AutoRollbackConfiguration names."
                    )

    _install("create_endpoint", "rollback_alarms_need_describe_alarms", check)
    _install("update_endpoint", "rollback_alarms_need_describe_alarms", check)
