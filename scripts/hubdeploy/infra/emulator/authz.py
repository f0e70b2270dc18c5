"""IAM authorization in the emulator: requests signed by an assumed role are checked against that role's policies.

Off by default (every test runs as the emulator's root). When switched on (`POST /moto-api/hubdeploy/authz` with
`{"enforce": true}`, or `enable()` in-process), each request whose access key belongs to a role session from
sts:AssumeRole is mapped to its IAM action(s), resource ARN(s) and condition keys (`iamactions`) and evaluated with
AWS's logic (`policyeval`) against the role's inline and managed policies and its permissions boundary. A denial
answers with the service's AccessDenied shape, naming the action and resource as AWS does; a call without a
mapping is refused too. Other credentials (the root's fake keys) pass unchecked. `GET /moto-api/hubdeploy/authz`
returns what was checked, denied and unmapped; `/moto-api/reset` switches enforcement off and clears the log.

moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT) stays off: it evaluates most requests against resource
"*" and ignores most condition operators, so a scoped policy would pass or fail for the wrong reasons.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from hubdeploy.infra.emulator import iamactions, policyeval
from hubdeploy.infra.emulator.patching import patch

log = logging.getLogger(__name__)

CONTROL_PATH = "/moto-api/hubdeploy/authz"
ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
# SigV4 signing name -> boto3 service name, for the services the stack calls
SIGNING_NAMES = {"monitoring": "cloudwatch", "execute-api": "apigateway"}
# The wire shape of AccessDenied per protocol: (status, error code)
DENIAL = {
    "query": (403, "AccessDenied"),
    "rest-xml": (403, "AccessDenied"),
    "json": (400, "AccessDeniedException"),
    "rest-json": (403, "AccessDeniedException"),
}


@dataclass
class State:
    """Whether enforcement is on, and what it saw."""

    enforce: bool = False
    checked: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "enforce": self.enforce,
                "checked": sorted(set(self.checked)),
                "denied": list(self.denied),
                "unmapped": list(self.unmapped),
            }

    def reset(self, enforce: bool = False) -> None:
        with self.lock:
            self.enforce = enforce
            self.checked.clear()
            self.denied.clear()
            self.unmapped.clear()


STATE = State()


def enable() -> None:
    STATE.reset(enforce=True)


def disable() -> None:
    STATE.reset(enforce=False)


@dataclass(frozen=True)
class Principal:
    """The role behind a session's access key."""

    session_arn: str
    role_arn: str
    account: str


def principal_of(access_key: str) -> Principal | None:
    """The assumed-role session that owns `access_key`, or None (root and user keys are not checked)."""
    from moto.sts.models import sts_backends

    for account, by_partition in sts_backends.items():
        backend = by_partition.get("aws") or by_partition.get("global")
        for assumed in getattr(backend, "assumed_roles", []) if backend else []:
            if assumed.access_key_id == access_key:
                return Principal(assumed.arn, assumed.role_arn, account)
    return None


def policies_of(principal: Principal) -> tuple[list[Any], Any | None]:
    """The role's identity policies (inline and attached) and its permissions boundary document, if any."""
    return role_policies(principal.account, "aws", principal.role_arn)


def role_policies(account: str, partition: str, role_arn: str) -> tuple[list[Any], Any | None]:
    """A role's identity policy documents (inline and attached) and its permissions boundary document, if any.

    Raises moto's NotFoundException when there is no such role or its boundary policy is gone."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account][partition]
    role = iam.get_role_by_arn(role_arn)
    documents: list[Any] = list(role.policies.values())
    documents += [_default_document(policy) for policy in role.managed_policies.values()]
    boundary = None
    if role.permissions_boundary_arn:
        boundary = _default_document(iam.get_policy(role.permissions_boundary_arn))
    return documents, boundary


def _default_document(policy: Any) -> Any:
    """The document of a managed policy's default version."""
    return next(v.document for v in policy.versions if v.version_id == policy.default_version_id)


def decide(principal: Principal, requirement: iamactions.Requirement) -> tuple[str, str] | None:
    """None if every resource of `requirement` is allowed, else (resource, why) of the first refused one."""
    documents, boundary = policies_of(principal)
    context = {
        "aws:securetransport": ["true"],  # the emulator stands in for AWS's HTTPS endpoints
        "aws:principalarn": [principal.role_arn],
        "aws:principalaccount": [principal.account],
        **requirement.context,
    }
    for resource in requirement.resources:
        outcome = policyeval.evaluate(documents, requirement.action, resource, context)
        if outcome.decision == "deny":
            return resource, f"with an explicit deny in an identity-based policy ({outcome.statement})"
        if outcome.decision != "allow":
            return resource, f"because no identity-based policy allows the {requirement.action} action"
        if boundary is not None:
            bounded = policyeval.evaluate([boundary], requirement.action, resource, context)
            if bounded.decision != "allow":
                return resource, f"because no permissions boundary allows the {requirement.action} action"
    return None


def parse_call(request: Any, service: str, region: str, account: str) -> iamactions.Call:
    """The operation and parameters of a moto Request, through botocore's service model (moto's router)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    model = get_service_model(service)
    operation, uri_params = get_service_router(service).match(request)
    protocol = determine_request_protocol(model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    body = b"" if service == "s3" else request.get_data()
    params = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": body,
            "url_path": request.path,
            "url_params": uri_params,
        }
    )
    return iamactions.Call(
        service=service,
        operation=operation.name,
        params=dict(params),
        region=region,
        account=account,
        method=request.method,
        path=request.path,
        headers={k: v for k, v in request.headers.items()},
    )


def _denial(service: str, request: Any, message: str) -> tuple[int, dict[str, str], str]:
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    try:
        protocol = determine_request_protocol(get_service_model(service), request.content_type)
    except Exception:
        protocol = "rest-xml"
    status, code = DENIAL.get(protocol, (403, "AccessDenied"))
    if protocol in {"json", "rest-json"}:
        body = json.dumps({"__type": code, "Message": message, "message": message})
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body
    xml_message = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{xml_message}</Message></Error>"
            "<RequestId>hubdeploy-authz</RequestId></ErrorResponse>"
        )
    else:
        body = (
            f"<Error><Code>{code}</Code><Message>{xml_message}</Message><RequestId>hubdeploy-authz</RequestId></Error>"
        )
    return status, {"Content-Type": "application/xml"}, body


def check(request: Any) -> tuple[int, dict[str, str], str] | None:
    """The AccessDenied response for `request` (a moto Request), or None when it may proceed."""
    if not STATE.enforce:
        return None
    match = ACCESS_KEY.search(request.headers.get("Authorization", ""))
    if not match:
        return None
    access_key, region, signing = match.groups()
    principal = principal_of(access_key)
    if principal is None:
        return None
    service = SIGNING_NAMES.get(signing, signing)
    try:
        call = parse_call(request, service, region, principal.account)
        needed = iamactions.requirements(call)
    except Exception as exc:  # unmapped, unroutable or unparsable: never let it through unchecked
        message = f"hubdeploy emulator: cannot authorize {service} {request.method} {request.path}: {exc}"
        with STATE.lock:
            STATE.unmapped.append(message)
        return _denial(service, request, message)
    for requirement in needed:
        with STATE.lock:
            STATE.checked.append(requirement.action)
        refused = decide(principal, requirement)
        if refused is not None:
            resource, why = refused
            message = (
                f"User: {principal.session_arn} is not authorized to perform: {requirement.action} "
                f"on resource: {resource} {why}"
            )
            with STATE.lock:
                STATE.denied.append(message)
            log.info("authz: %s", message)
            return _denial(service, request, message)
    return None


def _control(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        STATE.reset(enforce=bool(body.get("enforce")))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(STATE.report()).encode()]


def install() -> None:
    """Hook the check into moto_server (WSGI) and the in-process mock (botocore stubber). Idempotent."""
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.request import Request, normalize_request
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original_call = DomainDispatcherApplication.__call__

    def dispatch(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return _control(environ, start_response)
        if path == "/moto-api/reset":
            disable()
        elif STATE.enforce and "HTTP_AUTHORIZATION" in environ:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            request = Request(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
            denied = check(request)
            if denied is not None:
                status, headers, text = denied
                start_response(f"{status} Denied", list(headers.items()))
                return [text.encode()]
        return original_call(self, environ, start_response)

    original_process = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        if STATE.enforce:
            denied = check(normalize_request(request))
            if denied is not None:
                return denied
        return original_process(self, request)

    patch(DomainDispatcherApplication, "__call__", dispatch)
    patch(BotocoreStubber, "process_request", process_request)
