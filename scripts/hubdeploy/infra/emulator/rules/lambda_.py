"""Lambda rules: reserved concurrency must leave 100 executions unreserved in the account, and a
function's environment encrypted with a customer managed key is shown only to callers who may decrypt it.

The account's concurrency limit: AWS's default quota, 1000 (the number moto's own, opt-in check documents),
unless configured like moto's other Lambda settings, in `moto.core.config.default_user_config["lambda"]`
under `ACCOUNT_LIMIT_KEY` (in a running emulator: `POST /moto-api/config` with
`{"lambda": {"use_docker": false, "concurrent_executions": 10}}`, a new account's limit). GetAccountSettings
reports that limit and what is left unreserved, as AWS does (plain moto does not implement it).
"""

from __future__ import annotations

import json
from typing import Any

from hubdeploy.infra.emulator.patching import patch
from hubdeploy.infra.emulator.rules import rule
from hubdeploy.infra.emulator.rules.callers import caller_allowed

# AWS's default per-region concurrency quota; new accounts get far less (10) until they grow.
DEFAULT_ACCOUNT_LIMIT = 1000
# Lambda always keeps this many executions for functions without a reservation.
MINIMUM_UNRESERVED = 100
ACCOUNT_LIMIT_KEY = "concurrent_executions"
UNRESERVED_MESSAGE = (
    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
    f"below its minimum value of [{MINIMUM_UNRESERVED}]."
)
# What GetFunction returns instead of the variables when Lambda cannot decrypt them for the caller.
DECRYPT_DENIED_MESSAGE = (
    "Lambda was unable to decrypt the environment variables because KMS access was denied. Please check the "
    "function's KMS key settings. KMS Exception: AccessDeniedException KMS Message: The caller is not "
    "authorized to perform: kms:Decrypt on resource: {key}"
)
# Lambda's documented account quotas other than concurrency (bytes), reported by GetAccountSettings.
_CODE_LIMITS = {"TotalCodeSize": 80_530_636_800, "CodeSizeUnzipped": 262_144_000, "CodeSizeZipped": 52_428_800}


def account_limit() -> int:
    """The emulated account's concurrent-executions limit (configured, else AWS's default quota)."""
    from moto.core.config import default_user_config

    lambda_config: dict[str, Any] = dict(default_user_config["lambda"])
    return int(lambda_config.get(ACCOUNT_LIMIT_KEY) or DEFAULT_ACCOUNT_LIMIT)


def _reserved(backend: Any, *, except_function: str | None = None) -> int:
    """Executions reserved by the backend's functions (all but `except_function`)."""
    total = 0
    for fn in backend.list_functions():
        if fn.reserved_concurrency and fn.function_name != except_function:
            total += int(fn.reserved_concurrency)
    return total


@rule(doc="https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html")
def reserved_concurrency_leaves_100_unreserved() -> None:
    """PutFunctionConcurrency is refused when the account would keep fewer than 100 executions unreserved
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html): with a new account's
    limit of 10, every reservation is. GetAccountSettings reports the limit and the unreserved rest
    (https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html). CreateFunction takes no
    reservation in AWS's API, so PutFunctionConcurrency is the only way to reserve."""
    from moto.awslambda import urls
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.responses import LambdaResponse

    original = LambdaBackend.put_function_concurrency

    def put_function_concurrency(self: LambdaBackend, function_name: str, reserved_concurrency: str) -> str:
        fn = self.get_function(function_name)
        others = _reserved(self, except_function=fn.function_name)
        if account_limit() - others - int(reserved_concurrency) < MINIMUM_UNRESERVED:
            raise InvalidParameterValueException(UNRESERVED_MESSAGE)
        return original(self, function_name, reserved_concurrency)

    def get_account_settings(self: LambdaResponse) -> str:
        functions = list(self.backend.list_functions())
        limit = account_limit()
        return json.dumps(
            {
                "AccountLimit": {
                    **_CODE_LIMITS,
                    "ConcurrentExecutions": limit,
                    "UnreservedConcurrentExecutions": limit - _reserved(self.backend),
                },
                "AccountUsage": {
                    "TotalCodeSize": sum(int(getattr(fn, "code_size", 0) or 0) for fn in functions),
                    "FunctionCount": len(functions),
                },
            }
        )

    patch(LambdaBackend, "put_function_concurrency", put_function_concurrency)
    patch(LambdaResponse, "get_account_settings", get_account_settings)
    paths = dict(urls.url_paths)
    paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch
    patch(urls, "url_paths", paths)


def _hide_undecryptable_environment(response: Any, configuration: dict[str, Any]) -> None:
    """Replace the configuration's Variables by AWS's EnvironmentError when its KMS key is a customer
    managed key the caller may not decrypt with."""
    key = configuration.get("KMSKeyArn")
    environment = configuration.get("Environment")
    if not key or not environment or "Variables" not in environment:
        return
    if caller_allowed(response.current_account, response.headers, "kms:Decrypt", key):
        return
    configuration["Environment"] = {
        "Error": {"ErrorCode": "AccessDeniedException", "Message": DECRYPT_DENIED_MESSAGE.format(key=key)}
    }


@rule(doc="https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html")
def function_environment_needs_the_callers_kms_decrypt() -> None:
    """GetFunction / GetFunctionConfiguration of a function whose environment is encrypted with a customer
    managed key decrypt it with the CALLER's permissions: a caller without kms:Decrypt on that key gets
    `Environment: {Error: {ErrorCode, Message}}` and no Variables (EnvironmentResponse / EnvironmentError,
    https://docs.aws.amazon.com/lambda/latest/api/API_EnvironmentResponse.html). The caller is the role of
    the request's sts:AssumeRole credentials (`callers.caller_allowed`); the emulator's static keys are the
    account root, which sees everything."""
    from moto.awslambda.responses import LambdaResponse

    get_function = LambdaResponse.get_function
    get_function_configuration = LambdaResponse.get_function_configuration

    def strict_get_function(self: LambdaResponse) -> str:
        body = json.loads(get_function(self))
        _hide_undecryptable_environment(self, body["Configuration"])
        return json.dumps(body)

    def strict_get_function_configuration(self: LambdaResponse) -> str:
        body = json.loads(get_function_configuration(self))
        _hide_undecryptable_environment(self, body)
        return json.dumps(body)

    patch(LambdaResponse, "get_function", strict_get_function)
    patch(LambdaResponse, "get_function_configuration", strict_get_function_configuration)
