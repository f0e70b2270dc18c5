"""API Gateway rules: a stage may log to CloudWatch only once the account and region have a CloudWatch
Logs role (`cloudwatchRoleArn`, set once per account and region by terraform/account)."""

from __future__ import annotations

from typing import Any

from hubdeploy.infra.emulator.patching import patch
from hubdeploy.infra.emulator.rules import rule

NO_ROLE_MESSAGE = "CloudWatch Logs role ARN must be set in account settings to enable logging"
# Method-setting levels that write execution logs (OFF does not).
LOGGING_LEVELS = frozenset({"INFO", "ERROR"})


def enables_logging(operation: dict[str, Any]) -> bool:
    """True if an UpdateStage patch operation turns on access logs, execution logs or data tracing."""
    if operation.get("op") not in ("replace", "add"):
        return False
    path, value = str(operation.get("path", "")), str(operation.get("value") or "")
    if path.startswith("/accessLogSettings/destinationArn") or path == "/accessLogSettings":
        return bool(value)
    if path.endswith("/logging/loglevel"):
        return value.upper() in LOGGING_LEVELS
    if path.endswith("/logging/dataTrace"):
        return value.lower() == "true"
    return False


@rule(doc="https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html")
def stage_logging_needs_the_account_cloudwatch_role() -> None:
    """UpdateStage that enables access logging or method logging (INFO/ERROR, data trace) is refused with
    BadRequestException "CloudWatch Logs role ARN must be set in account settings to enable logging"
    while the account has no cloudwatchRoleArn (UpdateAccount,
    https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateAccount.html). CreateStage takes no log
    settings in AWS's API: Terraform sets them with UpdateStage (access logs, aws_api_gateway_method_settings)."""
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.update_stage

    def update_stage(self: APIGatewayBackend, function_id: str, stage_name: str, patch_operations: Any) -> Any:
        if any(enables_logging(op) for op in patch_operations or []) and not self.account.cloudwatch_role_arn:
            raise BadRequestException(NO_ROLE_MESSAGE)
        return original(self, function_id, stage_name, patch_operations)

    patch(APIGatewayBackend, "update_stage", update_stage)
