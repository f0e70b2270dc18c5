"""Who signed a request to the emulator, and what their identity policies allow: for rules whose answer
depends on the caller (AWS evaluates some reads with the caller's own permissions, e.g. Lambda decrypting
a function's environment for GetFunction).

moto resolves the caller from the request's access key the way its IAM enforcement does
(`moto.iam.access_control.create_access_key`): credentials from `sts:AssumeRole` map to that role,
an IAM user's access key to that user. The emulator's fake static keys belong to no IAM principal: they
stand for the account's root, which identity policies do not restrict (`None` below).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/")


def caller_policies(account_id: str, headers: Mapping[str, str]) -> list[Any] | None:
    """The identity policies (moto policy objects or JSON documents) of the principal that signed the
    request with `headers`, or None when it is no IAM user or assumed role moto knows (the account root)."""
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
    from moto.utilities.utils import get_partition

    match = _CREDENTIAL.search(str(headers.get("Authorization", "")))
    if not match:
        return None
    access_key_id, region = match.groups()
    try:
        key = create_access_key(
            account_id=account_id, partition=get_partition(region), access_key_id=access_key_id, headers=dict(headers)
        )
    except CreateAccessKeyFailure:
        return None
    return list(key.collect_policies())


def caller_allowed(account_id: str, headers: Mapping[str, str], action: str, resource: str) -> bool:
    """True if the request's signer may do `action` on `resource` by its identity policies (an explicit
    Deny wins; no Allow means denied); always True for the account root. Conditions are not evaluated:
    an Allow with a Condition does not count (moto cannot supply the request's context keys)."""
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult

    policies = caller_policies(account_id, headers)
    if policies is None:
        return True
    allowed = False
    for policy in policies:
        statements = IAMPolicy(policy)._policy_json["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED and statement.get("Effect") == "Deny":
                return False
            allowed = allowed or (result == PermissionResult.PERMITTED and statement.get("Effect") == "Allow")
    return allowed
