"""IAM rules: a role's permissions boundary must be an existing managed policy, and requests signed by an
assumed role are authorized with AWS's policy evaluation (the emulator's `authz`, switched on per test)."""

from __future__ import annotations

from typing import Any

from hubdeploy.infra.emulator.patching import patch
from hubdeploy.infra.emulator.rules import rule

# What IAM answers for a boundary that is not an attachable managed policy (code NoSuchEntity).
NO_BOUNDARY_MESSAGE = "Scope ARN: {arn} does not exist or is not attachable."


def _check_boundary(backend: Any, arn: str | None) -> None:
    from moto.iam.exceptions import NoSuchEntity

    if arn and arn not in backend.managed_policies:
        raise NoSuchEntity(NO_BOUNDARY_MESSAGE.format(arn=arn))


@rule(doc="https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html")
def iam_role_boundary_must_exist() -> None:
    """CreateRole and PutRolePermissionsBoundary refuse a boundary policy that does not exist (plain moto only
    checks the ARN's shape), so a stack applied before terraform/account fails as it would on AWS."""
    from moto.iam.models import IAMBackend

    original_create = IAMBackend.create_role
    original_put = IAMBackend.put_role_permissions_boundary

    def create_role(
        self: IAMBackend,
        role_name: str,
        assume_role_policy_document: str,
        path: str,
        permissions_boundary: str | None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_boundary(self, permissions_boundary)
        return original_create(
            self, role_name, assume_role_policy_document, path, permissions_boundary, *args, **kwargs
        )

    def put_role_permissions_boundary(self: IAMBackend, role_name: str, permissions_boundary: str) -> None:
        _check_boundary(self, permissions_boundary)
        original_put(self, role_name, permissions_boundary)

    patch(IAMBackend, "create_role", create_role)
    patch(IAMBackend, "put_role_permissions_boundary", put_role_permissions_boundary)


@rule(doc="https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html")
def assumed_role_requests_are_authorized() -> None:
    """Requests signed with an assumed role's credentials are allowed only if that role's policies (and its
    boundary) allow the action on the resource with the request's condition keys. Inert until switched on
    (`authz.enable()`, or `POST /moto-api/hubdeploy/authz` with {"enforce": true}); plain moto lets them all
    through (its own INITIAL_NO_AUTH_ACTION_COUNT check is off, and would see resource "*")."""
    from hubdeploy.infra.emulator import authz

    authz.install()
