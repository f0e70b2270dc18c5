"""Small patches that close moto 5.2.5's gaps against the Terraform AWS provider 5.100.

Each shim says which gap it closes (numbers follow EMULATOR-NOTES.md); `apply_all()` is called in
the emulator process before the server starts. Every patch goes through `patching.patch`, so `revert_all()`
restores plain moto: tests in tests/infra/emulator/ show each gap on plain moto and its closure with the
shim.

The shims patch moto's *response* classes where possible (the wire format the provider reads) and
leave its backends alone, so moto's own logic keeps working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from hubdeploy.infra.emulator.patching import patch as _patch
from hubdeploy.infra.emulator.patching import revert_all

__all__ = ["SHIMS", "apply_all", "revert_all", "shim"]

SHIMS: list[Callable[[], None]] = []

# What SageMaker accepts as an instance type (moto's allow-list predates ml.g5/g6/inf2).
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")


def shim(func: Callable[[], None]) -> Callable[[], None]:
    """Register a shim to run in `apply_all`."""
    SHIMS.append(func)
    return func


def apply_all() -> None:
    """Apply every registered shim (idempotent)."""
    for func in SHIMS:
        func()


def _without_empty(result: Any, keys: tuple[str, ...]) -> Any:
    """An ActionResult whose dict has `keys` removed when their value is empty."""
    from moto.core.responses import ActionResult

    if isinstance(result, ActionResult) and isinstance(result.result, dict):
        body = {k: v for k, v in result.result.items() if not (k in keys and not v)}
        return ActionResult(body)
    return result


@shim
def describe_model_drops_empty_vpc_config() -> None:
    """Gap 1: DescribeModel returns `VpcConfig: {}` for a model without VPC; the provider reads that
    as a configured-but-different vpc_config and plans a replacement on every run."""
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.describe_model

    def describe_model(self: SageMakerResponse) -> Any:
        return _without_empty(original(self), ("VpcConfig",))

    _patch(SageMakerResponse, "describe_model", describe_model)


@shim
def create_model_keeps_network_isolation() -> None:
    """Gap 9 (found here): CreateModel ignores `EnableNetworkIsolation` and DescribeModel always says
    false, so a model with network isolation (our default) is replaced on every plan."""
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_model

    def create_model(self: SageMakerResponse) -> Any:
        result = original(self)
        model = self.sagemaker_backend._models[self._get_param("ModelName")]
        model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
        return result

    _patch(SageMakerResponse, "create_model", create_model)


@shim
def describe_endpoint_config_drops_empty_blocks() -> None:
    """Gap 2: DescribeEndpointConfig returns empty `DataCaptureConfig` / `AsyncInferenceConfig`;
    the provider sees a block that is not in the configuration and forces a replacement."""
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.describe_endpoint_config

    def describe_endpoint_config(self: SageMakerResponse) -> Any:
        return _without_empty(original(self), ("DataCaptureConfig", "AsyncInferenceConfig"))

    _patch(SageMakerResponse, "describe_endpoint_config", describe_endpoint_config)


@shim
def create_endpoint_keeps_deployment_config() -> None:
    """Gap 3: CreateEndpoint drops `DeploymentConfig` (blue/green, auto-rollback alarms), so an
    endpoint with one never converges. Store it on the endpoint; DescribeEndpoint then returns it as
    `LastDeploymentConfig`, as AWS does (moto serialises every attribute of the endpoint object)."""
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerResponse.create_endpoint

    def create_endpoint(self: SageMakerResponse) -> Any:
        result = original(self)
        deployment_config = self._get_param("DeploymentConfig")
        if deployment_config:
            endpoint = self.sagemaker_backend.endpoints[self._get_param("EndpointName")]
            endpoint.__dict__["last_deployment_config"] = deployment_config  # an attribute moto does not declare
        return result

    _patch(SageMakerResponse, "create_endpoint", create_endpoint)


@shim
def update_endpoint_implemented() -> None:
    """Gap 4: UpdateEndpoint is not implemented (HTTP 500), so a model update cannot be applied.
    Point the endpoint at the new configuration, as SageMaker does once the update finished
    (moto has no Updating phase: the endpoint is InService again at once). As on AWS, the variants take
    the new configuration's InitialInstanceCount and InitialVariantWeight (an autoscaled count is reset)
    unless RetainAllVariantProperties keeps the current ones for variants of the same name, minus those
    ExcludeRetainedVariantProperties names:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html"""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint
    from moto.sagemaker.responses import SageMakerResponse

    def update_endpoint(self: SageMakerResponse) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
        endpoint.endpoint_config_name = config["EndpointConfigName"]
        current = {v["VariantName"]: v for v in endpoint.production_variants}
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        if self._get_param("RetainAllVariantProperties"):
            excluded = {p.get("VariantPropertyType") for p in self._get_param("ExcludeRetainedVariantProperties") or []}
            kept = {"DesiredInstanceCount": ("CurrentInstanceCount",), "DesiredWeight": ("CurrentWeight",)}
            for variant in endpoint.production_variants:
                for prop, also in kept.items():
                    old = current.get(variant["VariantName"], {})
                    if prop not in excluded and prop in old:
                        for key in (prop, *also):
                            variant[key] = old.get(key, old[prop])
        endpoint.data_capture_config = config.get("DataCaptureConfig") or {}
        deployment_config = self._get_param("DeploymentConfig")
        if deployment_config:
            endpoint.__dict__["last_deployment_config"] = deployment_config
        elif not self._get_param("RetainDeploymentConfig"):
            endpoint.__dict__.pop("last_deployment_config", None)
        endpoint.last_modified_time = utcnow()
        endpoint.endpoint_status = "InService"
        return ActionResult({"EndpointArn": endpoint.arn})

    _patch(SageMakerResponse, "update_endpoint", update_endpoint)


@shim
def application_autoscaling_tags() -> None:
    """Gap 5: Application Auto Scaling has no TagResource / UntagResource / ListTagsForResource;
    the provider tags every scalable target (default tags) and hangs retrying the HTTP 500.
    Keep tags per ARN on the backend; RegisterScalableTarget's `Tags` are recorded too."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    def tag_store(self: ApplicationAutoScalingResponse) -> dict[str, dict[str, str]]:
        backend = self.applicationautoscaling_backend
        if "_hubdeploy_tags" not in backend.__dict__:
            backend.__dict__["_hubdeploy_tags"] = {}
        return backend.__dict__["_hubdeploy_tags"]

    original_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        body = original_register(self)
        tags = self._get_param("Tags") or {}
        if tags:
            tag_store(self).setdefault(json.loads(body)["ScalableTargetARN"], {}).update(tags)
        return body

    def tag_resource(self: ApplicationAutoScalingResponse) -> str:
        tag_store(self).setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self: ApplicationAutoScalingResponse) -> str:
        tags = tag_store(self).get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return json.dumps({})

    def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
        return json.dumps({"Tags": tag_store(self).get(self._get_param("ResourceARN"), {})})

    _patch(ApplicationAutoScalingResponse, "register_scalable_target", register_scalable_target)
    _patch(ApplicationAutoScalingResponse, "tag_resource", tag_resource)
    _patch(ApplicationAutoScalingResponse, "untag_resource", untag_resource)
    _patch(ApplicationAutoScalingResponse, "list_tags_for_resource", list_tags_for_resource)


@shim
def endpoint_config_accepts_current_instance_types() -> None:
    """Gap 6: moto's endpoint-config instance-type allow-list rejects current families (ml.g5,
    ml.g6, ml.inf2). Accept any well-formed `ml.<family>.<size>`; our Terraform validation and
    AWS itself are the real judges."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpointConfig

    def validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
        if not INSTANCE_TYPE.match(instance_type or ""):
            raise ValidationError(message=f"Value '{instance_type}' at 'instanceType' is not an ml.* instance type")

    _patch(FakeEndpointConfig, "validate_instance_type", validate_instance_type)


@shim
def cognito_delete_resource_server() -> None:
    """Gap 7 (found here, not in the notes): Cognito DeleteResourceServer is not implemented, so a
    destroy of a user pool with an OAuth resource server (our client-credentials scope) fails."""
    from moto.cognitoidp.responses import CognitoIdpResponse

    def delete_resource_server(self: CognitoIdpResponse) -> str:
        user_pool_id = self._get_param("UserPoolId")
        identifier = self._get_param("Identifier")
        self.backend.describe_resource_server(user_pool_id, identifier)  # raises ResourceNotFound
        del self.backend.user_pools[user_pool_id].resource_servers[identifier]
        return ""

    _patch(CognitoIdpResponse, "delete_resource_server", delete_resource_server)


# What the emulator answers for condition keys it can know: it stands in for AWS's HTTPS endpoints.
_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _condition_holds(condition: dict[str, Any]) -> bool | None:
    """True/False for a policy Condition over keys in _REQUEST_CONTEXT; None when it uses anything else."""
    for operator, pairs in condition.items():
        base = operator.removesuffix("IfExists")
        for key, expected in pairs.items():
            actual = _REQUEST_CONTEXT.get(key.lower())
            if actual is None or base not in {"Bool", "StringEquals", "StringNotEquals"}:
                return None
            values = {str(v).lower() for v in (expected if isinstance(expected, list) else [expected])}
            if (actual in values) != (base != "StringNotEquals"):
                return False
    return True


@shim
def s3_bucket_policy_conditions() -> None:
    """Gap 8 (found by the local stack): moto ignores condition operators it does not implement (all but
    StringEquals), so a conditional Deny becomes unconditional. The TLS-only policy `hubdeploy bootstrap`
    puts on its buckets (Deny s3:* when aws:SecureTransport is "false") then refuses every object
    read/write, including Terraform's S3 backend. Statements whose condition is about the transport are
    evaluated here (the emulator stands in for AWS's HTTPS endpoints); the rest is left to moto."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        permitted = False
        for statement in statements if isinstance(statements, list) else [statements]:
            holds = _condition_holds(statement["Condition"]) if statement.get("Condition") else None
            if holds is False:
                continue  # the statement does not apply to this request
            if holds is True:
                statement = {k: v for k, v in statement.items() if k != "Condition"}
            result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    _patch(FakeBucket, "get_permission", get_permission)
