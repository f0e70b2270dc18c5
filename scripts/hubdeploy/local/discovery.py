"""Read the deployed API from the emulated control plane: routes, authorisers, API keys, the Lambda.

Starting from the stage's invoke URL (Terraform output `api_url`), everything the local gateway
enforces comes from API Gateway's own description of the REST API, and the function it runs from the
Lambda configuration (handler, environment, timeout, CodeSha256), so the local API behaves as applied.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hubdeploy.errors import ArtifactError, LocalStackError
from hubdeploy.local.api import ApiConfig, Route
from hubdeploy.local.jwtauth import CognitoVerifier
from hubdeploy.local.lambdarun import LambdaFunction, unpack_lambda_zip
from hubdeploy.local.tokens import TokenEndpoint

log = logging.getLogger(__name__)
LAMBDA_URI = re.compile(r"^arn:aws[\w-]*:apigateway:[\w-]+:lambda:path/[\d-]+/functions/(?P<arn>.+)/invocations$")
POOL_ARN = re.compile(r"^arn:aws[\w-]*:cognito-idp:[\w-]+:\d+:userpool/(?P<id>.+)$")


@dataclass(frozen=True)
class StageRef:
    api_id: str
    stage: str


def parse_invoke_url(api_url: str) -> StageRef:
    """`https://<api id>.execute-api.<region>.amazonaws.com/<stage>[/...]` -> (api id, stage)."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    segments = [s for s in parts.path.split("/") if s]
    if ".execute-api." not in host or not segments:
        raise LocalStackError(
            f"api: {api_url!r} is not an API Gateway stage invoke URL",
            hint="check the env root's `api_url` output (terraform output api_url)",
        )
    return StageRef(api_id=host.split(".", 1)[0], stage=segments[0])


def _routes(apigw: Any, api_id: str) -> tuple[list[Route], dict[str, Any], set[str]]:
    """Routes, authorisers by id, and the Lambda ARNs the routes integrate with."""
    routes: list[Route] = []
    authorizers: dict[str, Any] = {}
    functions: set[str] = set()
    resources = apigw.get_resources(restApiId=api_id, limit=500).get("items", [])
    for resource in resources:
        for method in sorted(resource.get("resourceMethods") or {}):
            if method == "OPTIONS":
                continue  # CORS preflight mocks: the gateway answers those itself
            m = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
            integration = m.get("methodIntegration") or {}
            match = LAMBDA_URI.match(integration.get("uri") or "")
            if integration.get("type") != "AWS_PROXY" or not match:
                log.warning(
                    "api: %s %s is not a Lambda proxy integration; not served locally", method, resource["path"]
                )
                continue
            functions.add(match["arn"])
            auth_type = m.get("authorizationType") or "NONE"
            header = "Authorization"
            if auth_type == "COGNITO_USER_POOLS" and m.get("authorizerId"):
                authorizer = authorizers.setdefault(
                    m["authorizerId"], apigw.get_authorizer(restApiId=api_id, authorizerId=m["authorizerId"])
                )
                source = authorizer.get("identitySource") or "method.request.header.Authorization"
                header = source.rsplit(".", 1)[-1]
            routes.append(
                Route(
                    body_schemas=_body_schemas(apigw, api_id, m),
                    resource=resource["path"],
                    method=method,
                    authorization=auth_type,
                    api_key_required=bool(m.get("apiKeyRequired")),
                    scopes=tuple(m.get("authorizationScopes") or ()),
                    identity_header=header,
                )
            )
    return routes, authorizers, functions


def _body_schemas(apigw: Any, api_id: str, method: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(content type, JSON schema) pairs the method's request validator checks bodies against."""
    validator_id = method.get("requestValidatorId")
    if not validator_id or not method.get("requestModels"):
        return ()
    validator = apigw.get_request_validator(restApiId=api_id, requestValidatorId=validator_id)
    if not validator.get("validateRequestBody"):
        return ()
    return tuple(
        (media.lower(), apigw.get_model(restApiId=api_id, modelName=name).get("schema") or "{}")
        for media, name in sorted(method["requestModels"].items())
        if name != "Empty"  # API Gateway's built-in pass-through model
    )


def _api_keys(apigw: Any, ref: StageRef) -> frozenset[str]:
    """Values of the enabled API keys of usage plans bound to this stage."""
    values: set[str] = set()
    for plan in apigw.get_usage_plans().get("items", []):
        if not any(s.get("apiId") == ref.api_id and s.get("stage") == ref.stage for s in plan.get("apiStages", [])):
            continue
        for key in apigw.get_usage_plan_keys(usagePlanId=plan["id"]).get("items", []):
            detail = apigw.get_api_key(apiKey=key["id"], includeValue=True)
            if detail.get("enabled", True) and detail.get("value"):
                values.add(detail["value"])
    return frozenset(values)


def _verifier(
    authorizers: dict[str, Any], *, endpoint_url: str, region: str, client_ids: frozenset[str]
) -> CognitoVerifier | None:
    pools = {m["id"] for a in authorizers.values() for arn in a.get("providerARNs") or [] if (m := POOL_ARN.match(arn))}
    if not pools:
        return None
    if len(pools) > 1:
        raise LocalStackError(
            f"api: {len(pools)} user pools authorise this API", hint="the local stack verifies one pool"
        )
    pool_id = pools.pop()
    return CognitoVerifier(
        issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        jwks_url=f"{endpoint_url.rstrip('/')}/{pool_id}/.well-known/jwks.json",
        client_ids=client_ids,
    )


def discover_api(
    *,
    session: Any,
    endpoint_url: str,
    api_url: str,
    lambda_zip: bytes,
    code_root: Path,
    auth_mode: str = "none",
    client_ids: frozenset[str] = frozenset(),
) -> ApiConfig:
    """Build the local gateway's configuration from what is deployed.

    Args:
        session: a boto3 Session whose clients are pointed at the emulator via `endpoint_url`.
        endpoint_url: the emulator's URL (also serves the user pool's JWKS).
        api_url: the stage's invoke URL (Terraform output `api_url`).
        lambda_zip: the published lambda.zip bytes; must match the deployed function's CodeSha256.
        code_root: where function code is unpacked (one folder per zip digest).
        auth_mode: the Terraform output `auth.mode`, for display.
        client_ids: app clients whose tokens are accepted (Terraform output `auth.client_id`).

    Raises:
        LocalStackError: the API, its routes or its function cannot be found or used.
        ArtifactError: lambda.zip does not match the deployed function.
    """
    ref = parse_invoke_url(api_url)
    region = session.region_name
    apigw = session.client("apigateway", endpoint_url=endpoint_url)
    lam = session.client("lambda", endpoint_url=endpoint_url)
    try:
        apigw.get_stage(restApiId=ref.api_id, stageName=ref.stage)
    except Exception as exc:
        raise LocalStackError(
            f"api: stage {ref.stage!r} of REST API {ref.api_id} is not deployed ({exc})",
            hint="re-run terraform apply (hubdeploy local up)",
        ) from None
    routes, authorizers, functions = _routes(apigw, ref.api_id)
    if not routes:
        raise LocalStackError(
            f"api: REST API {ref.api_id} has no Lambda proxy route", hint="check the inference-api module"
        )
    if len(functions) != 1:
        raise LocalStackError(
            f"api: the routes call {len(functions)} functions", hint="the local stack runs exactly one"
        )
    function_arn = functions.pop()
    fn = lam.get_function_configuration(FunctionName=function_arn)
    deployed = base64.b64decode(fn["CodeSha256"]).hex()
    actual = hashlib.sha256(lambda_zip).hexdigest()
    if actual != deployed:
        raise ArtifactError(
            f"api: artifact corrupt: lambda.zip (sha256 {actual[:12]}...) is not the code of the deployed function "
            f"{fn['FunctionName']} (sha256 {deployed[:12]}...)",
            hint="re-publish and re-apply: hubdeploy local up",
        )
    code_dir = unpack_lambda_zip(lambda_zip, dest_root=code_root, expected_sha256=deployed)
    function = LambdaFunction(
        code_dir,
        handler=fn.get("Handler") or "handler.handler",
        environment=dict((fn.get("Environment") or {}).get("Variables") or {}),
        function_name=fn["FunctionName"],
        function_arn=fn["FunctionArn"],
        memory_mb=int(fn.get("MemorySize") or 128),
        timeout_seconds=int(fn.get("Timeout") or 30),
    )
    notes = []
    if any(r.authorization == "AWS_IAM" for r in routes):
        notes.append("IAM-authorised routes: the local API checks that a SigV4 header is present, not its signature")
    verifier = _verifier(authorizers, endpoint_url=endpoint_url, region=region, client_ids=client_ids)
    token_endpoint = None
    if verifier is not None:
        pool_id = verifier.issuer.rsplit("/", 1)[-1]
        cognito = session.client("cognito-idp", endpoint_url=endpoint_url)
        token_endpoint = TokenEndpoint(cognito=cognito, user_pool_id=pool_id, region=region)
    return ApiConfig(
        stage=ref.stage,
        routes=routes,
        function=function,
        api_id=ref.api_id,
        account_id=fn["FunctionArn"].split(":")[4],
        region=region,
        verifier=verifier,
        token_endpoint=token_endpoint,
        api_keys=_api_keys(apigw, ref),
        auth_mode=auth_mode,
        notes=notes,
    )
