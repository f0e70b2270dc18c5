"""What IAM evaluates for one API call: its action(s), the resource ARN(s) and the condition keys it carries.

One entry per service the stack calls. The action and resource types follow the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html);
tags on existing resources (`aws:ResourceTag/*`) come from moto's backends. A call this module does not know
raises LookupError: the emulator refuses it rather than letting it through unchecked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Operations IAM never authorizes (every principal may call them).
UNAUTHORIZED_OPERATIONS = frozenset({("sts", "GetCallerIdentity")})


@dataclass(frozen=True)
class Requirement:
    """One IAM action on one or more resources, with the request's condition keys (lowercase names)."""

    action: str
    resources: tuple[str, ...]
    context: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """A parsed request: service (boto3 name), operation, parameters, where it went, and moto's backends."""

    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    method: str = "POST"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def backend(self, name: str) -> Any:
        import moto.backends

        backends = moto.backends.get_backend(name)  # type: ignore[call-overload]
        return backends[self.account]["aws" if name == "iam" else self.region]  # IAM is global (per partition)


def _tags(value: Any) -> dict[str, str]:
    """A request's tags in any of AWS's shapes: a map, [{Key, Value}] or [{TagKey, TagValue}]."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs = {}
    for tag in value or []:
        key = tag.get("Key", tag.get("TagKey", tag.get("key")))
        pairs[str(key)] = str(tag.get("Value", tag.get("TagValue", tag.get("value", ""))))
    return pairs


def request_tags(tags: Any) -> dict[str, list[str]]:
    """aws:RequestTag/<key> and aws:TagKeys for the tags a request sets."""
    pairs = _tags(tags)
    if not pairs:
        return {}
    context = {f"aws:requesttag/{k.lower()}": [v] for k, v in pairs.items()}
    context["aws:tagkeys"] = list(pairs)
    return context


def resource_tags(tags: Mapping[str, str]) -> dict[str, list[str]]:
    return {f"aws:resourcetag/{k.lower()}": [v] for k, v in tags.items()}


# -- IAM ----------------------------------------------------------------------------------------------------------


# The calls that carry iam:PermissionsBoundary (the role's current boundary; CreateRole and
# PutRolePermissionsBoundary carry the one requested). No other call has the key.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html
BOUNDARY_OF_THE_ROLE = frozenset(
    {"AttachRolePolicy", "DeleteRolePermissionsBoundary", "DeleteRolePolicy", "DetachRolePolicy", "PutRolePolicy"}
)


def _iam(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    action = f"iam:{op}"
    if "RoleName" not in p:
        if "PolicyArn" in p:
            return [Requirement(action, (p["PolicyArn"],))]
        return [Requirement(action, ("*",), {k: v for k, v in _service_name(p).items()})]
    iam = call.backend("iam")
    role = next((r for r in iam.roles.values() if r.name == p["RoleName"]), None)
    arn = role.arn if role else f"arn:aws:iam::{call.account}:role{p.get('Path', '/')}{p['RoleName']}"
    context: dict[str, list[str]] = {}
    if role is not None:
        tags = role.tags.values() if isinstance(role.tags, Mapping) else role.tags or []
        context.update(resource_tags(_tags(list(tags))))
        if role.permissions_boundary_arn and op in BOUNDARY_OF_THE_ROLE:
            context["iam:permissionsboundary"] = [role.permissions_boundary_arn]
    if p.get("PermissionsBoundary") and op in {"CreateRole", "PutRolePermissionsBoundary"}:
        context["iam:permissionsboundary"] = [p["PermissionsBoundary"]]
    if p.get("PolicyArn"):
        context["iam:policyarn"] = [p["PolicyArn"]]
    context.update(request_tags(p.get("Tags")))
    if op == "UntagRole":
        context["aws:tagkeys"] = list(p.get("TagKeys") or [])
    return [Requirement(action, (arn,), context)]


def _service_name(p: Mapping[str, Any]) -> dict[str, list[str]]:
    return {"iam:awsservicename": [p["AWSServiceName"]]} if p.get("AWSServiceName") else {}


def pass_role(call: Call, role_arn: str | None, service: str) -> list[Requirement]:
    """iam:PassRole, which a create call needs for the role it hands to a service."""
    if not role_arn:
        return []
    return [Requirement("iam:PassRole", (role_arn,), {"iam:passedtoservice": [service]})]


# -- KMS ----------------------------------------------------------------------------------------------------------


def _kms_key(call: Call, key_id: str) -> tuple[str, dict[str, list[str]]]:
    kms = call.backend("kms")
    try:
        resolved = kms.any_id_to_key_id(key_id)
        key = kms.keys[resolved]
    except Exception:  # unknown key: KMS answers NotFound after authorizing on the ARN it was given
        return (key_id if key_id.startswith("arn:") else call.arn("kms", f"key/{key_id}")), {}
    return key.arn, resource_tags(kms.tagger.get_tag_dict_for_resource(key.id))


def _kms(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    if op in {"CreateKey", "ListAliases", "ListKeys"}:
        return [Requirement(f"kms:{op}", ("*",), request_tags(p.get("Tags")))]
    if op in {"CreateAlias", "DeleteAlias", "UpdateAlias"}:
        alias_arn = call.arn("kms", p["AliasName"])
        target = p.get("TargetKeyId")
        if target is None:  # DeleteAlias: the key the alias points to
            target = call.backend("kms").get_key_id_from_alias(p["AliasName"]) or p["AliasName"]
        key_arn, tags = _kms_key(call, target)
        return [Requirement(f"kms:{op}", (alias_arn,)), Requirement(f"kms:{op}", (key_arn,), tags)]
    key_arn, context = _kms_key(call, p.get("KeyId") or p.get("TargetKeyId") or "")
    context.update(request_tags(p.get("Tags")))
    return [Requirement(f"kms:{op}", (key_arn,), context)]


# -- CloudWatch Logs ----------------------------------------------------------------------------------------------


def _logs(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    if op == "DescribeLogGroups":
        return [Requirement("logs:DescribeLogGroups", (call.arn("logs", "log-group:*"),))]
    arn = p.get("resourceArn") or call.arn("logs", f"log-group:{p['logGroupName']}")
    arn = arn.removesuffix(":*")
    name = arn.split(":log-group:", 1)[1]
    context = request_tags(p.get("tags"))
    logs = call.backend("logs")
    if name in logs.groups:
        context.update(resource_tags(logs.list_tags_for_resource(logs.groups[name].arn)))
    return [Requirement(f"logs:{op}", (arn,), context)]


# -- Lambda -------------------------------------------------------------------------------------------------------


def _lambda(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    action = f"lambda:{op.removesuffix('20150331').removesuffix('20150331v2')}"
    name = p.get("FunctionName") or p.get("Resource") or ""
    arn = name if name.startswith("arn:") else call.arn("lambda", f"function:{name}")
    arn = ":".join(arn.split(":")[:7])  # no version or alias qualifier
    context = request_tags(p.get("Tags"))
    requirements = [Requirement(action, (arn,), context)]
    if op in {"CreateFunction", "UpdateFunctionConfiguration"}:
        requirements += pass_role(call, p.get("Role"), "lambda.amazonaws.com")
    return requirements


# -- SageMaker ----------------------------------------------------------------------------------------------------

SAGEMAKER_RESOURCES = {"Model": "model", "EndpointConfig": "endpoint-config", "Endpoint": "endpoint"}


def _sagemaker(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    action = f"sagemaker:{op}"
    if op.startswith("List") and op != "ListTags":
        return [Requirement(action, ("*",))]
    if "ResourceArn" in p:
        return [Requirement(action, (p["ResourceArn"],), request_tags(p.get("Tags")))]
    resources = []
    for param, kind in SAGEMAKER_RESOURCES.items():
        if p.get(f"{param}Name"):
            resources.append(call.arn("sagemaker", f"{kind}/{p[f'{param}Name'].lower()}"))
    if not resources:
        raise LookupError(f"sagemaker:{op} names no model, endpoint configuration or endpoint")
    requirements = [Requirement(action, tuple(resources), request_tags(p.get("Tags")))]
    if op == "CreateModel":
        requirements += pass_role(call, p.get("ExecutionRoleArn"), "sagemaker.amazonaws.com")
    return requirements


# -- Cognito user pools -------------------------------------------------------------------------------------------


def _cognito(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    action = f"cognito-idp:{op}"
    if op == "CreateUserPool":
        return [Requirement(action, ("*",), request_tags(p.get("UserPoolTags")))]
    if op == "DescribeUserPoolDomain" or (op.startswith("List") and "UserPoolId" not in p and "ResourceArn" not in p):
        return [Requirement(action, ("*",))]
    arn = p.get("ResourceArn") or call.arn("cognito-idp", f"userpool/{p['UserPoolId']}")
    pool = call.backend("cognito-idp").user_pools.get(arn.rsplit("/", 1)[1])
    context = request_tags(p.get("Tags"))
    if pool is not None:
        context.update(resource_tags(pool.extended_config.get("UserPoolTags") or {}))
    return [Requirement(action, (arn,), context)]


# -- CloudWatch alarms, Application Auto Scaling, API Gateway, S3 -------------------------------------------------


def _cloudwatch(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    if "ResourceARN" in p:
        return [Requirement(f"cloudwatch:{op}", (p["ResourceARN"],), request_tags(p.get("Tags")))]
    names = p.get("AlarmNames") or ([p["AlarmName"]] if p.get("AlarmName") else [])
    resources = tuple(call.arn("cloudwatch", f"alarm:{n}") for n in names) or ("*",)
    return [Requirement(f"cloudwatch:{op}", resources, request_tags(p.get("Tags")))]


def _autoscaling(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    context = request_tags(p.get("Tags"))
    if p.get("ServiceNamespace"):
        context["application-autoscaling:servicenamespace"] = [p["ServiceNamespace"]]
    if p.get("ScalableDimension"):
        context["application-autoscaling:scalabledimension"] = [p["ScalableDimension"]]
    resource = p.get("ResourceARN") or "*"
    requirements = [Requirement(f"application-autoscaling:{op}", (resource,), context)]
    # Registering a SageMaker variant and target tracking act on the endpoint and its alarms with the caller's
    # rights (https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html)
    resource_id = str(p.get("ResourceId") or "")
    if op in {"RegisterScalableTarget", "PutScalingPolicy"} and resource_id.startswith("endpoint/"):
        endpoint = call.arn("sagemaker", f"endpoint/{resource_id.split('/')[1].lower()}")
        for action in ("sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"):
            requirements.append(Requirement(action, (endpoint,)))
    if op == "PutScalingPolicy" and p.get("PolicyType") == "TargetTrackingScaling":
        alarms = call.arn("cloudwatch", f"alarm:TargetTracking-{resource_id}-*")
        requirements += [Requirement(a, (alarms,)) for a in ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms")]
    return requirements


def _apigateway(call: Call) -> list[Requirement]:
    # API Gateway's control plane is authorized by HTTP method on the resource path.
    path = call.path.split("?", 1)[0].rstrip("/") or "/"
    return [Requirement(f"apigateway:{call.method.upper()}", (f"arn:aws:apigateway:{call.region}::{path}",))]


S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "HeadBucket": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
    "GetBucketPolicyStatus": "GetBucketPolicyStatus",
}


def _s3(call: Call) -> list[Requirement]:
    p, op = call.params, call.operation
    action = f"s3:{S3_ACTIONS.get(op, op)}"
    bucket, key = p.get("Bucket", ""), p.get("Key")
    arn = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}" if bucket else "*"
    context: dict[str, list[str]] = {}
    if p.get("IfNoneMatch"):
        context["s3:if-none-match"] = [p["IfNoneMatch"]]
    requirements = [Requirement(action, (arn,), context)]
    if op in {"PutObject", "CreateMultipartUpload"} and p.get("Tagging"):
        # tagging an object as it is written needs s3:PutObjectTagging too (S3 API reference, PutObject)
        requirements.append(Requirement("s3:PutObjectTagging", (arn,)))
    return requirements


SERVICES: dict[str, Callable[[Call], list[Requirement]]] = {
    "iam": _iam,
    "kms": _kms,
    "logs": _logs,
    "lambda": _lambda,
    "sagemaker": _sagemaker,
    "cognito-idp": _cognito,
    "cloudwatch": _cloudwatch,
    "application-autoscaling": _autoscaling,
    "apigateway": _apigateway,
    "s3": _s3,
}


def requirements(call: Call) -> list[Requirement]:
    """Everything IAM checks for `call`; [] for calls IAM never authorizes.

    Raises LookupError for a call without a mapping (the emulator refuses it).
    """
    if (call.service, call.operation) in UNAUTHORIZED_OPERATIONS:
        return []
    mapper = SERVICES.get(call.service)
    if mapper is None:
        raise LookupError(f"no IAM mapping for service {call.service} ({call.operation})")
    try:
        return mapper(call)
    except (KeyError, IndexError) as exc:
        raise LookupError(f"no IAM mapping for {call.service}:{call.operation} with these parameters ({exc})") from None
