"""Every way the SageMaker call can fail, stubbed at the boto3 level, and the HTTP answer each one gets."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
AWS_INTERNALS = (ACCOUNT, "arn:aws", "Traceback", "botocore", "InvokeEndpoint", "sagemaker")


def body_of(result):
    return json.loads(result["body"])


def assert_no_internals(result):
    for secret in AWS_INTERNALS:
        assert secret not in result["body"], secret


def add_error(runtime, code, status, message="", **modeled):
    runtime.add_client_error(
        "invoke_endpoint",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        modeled_fields=modeled or None,
    )


def test_throttling_is_retried_with_backoff_and_then_succeeds(
    lam, config, context, event, runtime, sleeps, model_reply
):
    add_error(runtime, "ThrottlingException", 400, "Rate exceeded")
    add_error(runtime, "ThrottlingException", 400, "Rate exceeded")
    runtime.add_response("invoke_endpoint", model_reply([{"label": "Positive", "score": 0.9}]))

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 200
    assert len(sleeps) == 2
    assert 0.1 <= sleeps[0] <= 0.3 and 0.2 <= sleeps[1] <= 0.6  # exponential, jittered


def test_persistent_throttling_is_429_with_retry_after(lam, config, context, event, runtime, sleeps):
    for _ in range(3):
        add_error(runtime, "ThrottlingException", 400, f"Rate exceeded for account {ACCOUNT}")

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 429
    assert result["headers"]["Retry-After"] == "1"
    assert body_of(result)["code"] == "throttled"
    assert len(sleeps) == 2
    assert_no_internals(result)


def test_no_retry_when_the_lambda_is_about_to_time_out(lam, config, make_context, event, runtime, sleeps):
    add_error(runtime, "ThrottlingException", 400, "Rate exceeded")

    result = lam.handler.handle(event("rest_post_text.json"), make_context(remaining_ms=1500), config=config)

    assert result["statusCode"] == 429
    assert sleeps == []


@pytest.mark.parametrize(
    ("code", "http", "message", "modeled", "status", "error_code", "retry_after"),
    [
        (
            "ModelError",
            424,
            'Received server error (500) from primary with message "boom". See https://eu-west-1.console.aws.amazon'
            f".com/cloudwatch/home?region=eu-west-1#logEventViewer:group=/aws/sagemaker/Endpoints/x ({ACCOUNT})",
            {
                "OriginalStatusCode": 500,
                "OriginalMessage": "boom",
                "LogStreamArn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:x",
            },
            502,
            "model_error",
            False,
        ),
        (
            "ModelError",
            424,
            'Received client error (400) from primary with message "1 texts".',
            {"OriginalStatusCode": 400, "OriginalMessage": "bad"},
            502,
            "model_error",
            False,
        ),
        (
            "ModelError",
            424,
            "Your invocation timed out while waiting for a response from container primary.",
            {},
            504,
            "model_timeout",
            False,
        ),
        (
            "ValidationError",
            400,
            f"Endpoint hubdeploy-dev-finbert of account {ACCOUNT} not found.",
            {},
            503,
            "endpoint_unavailable",
            True,
        ),
        (
            "ValidationError",
            400,
            "Endpoint hubdeploy-dev-finbert is in Creating status; it must be InService to invoke it.",
            {},
            503,
            "endpoint_unavailable",
            True,
        ),
        ("ValidationError", 400, "1 validation error detected: Value at 'body'", {}, 502, "upstream_error", False),
        ("ModelNotReadyException", 429, "Model is not ready", {}, 503, "model_not_ready", True),
        ("ServiceUnavailable", 503, "Service Unavailable", {}, 503, "upstream_unavailable", True),
        ("InternalDependencyException", 530, "dependency failed", {}, 503, "upstream_unavailable", True),
        ("InternalFailure", 500, "An internal error occurred", {}, 502, "upstream_error", False),
        (
            "AccessDeniedException",
            403,
            f"User arn:aws:sts::{ACCOUNT}:assumed-role/x is not authorized",
            {},
            500,
            "misconfigured",
            False,
        ),
    ],
)
def test_endpoint_errors_map_to_honest_status_codes_without_aws_details(
    lam, config, context, event, runtime, sleeps, code, http, message, modeled, status, error_code, retry_after
):
    add_error(runtime, code, http, message, **modeled)

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == status
    assert body_of(result)["code"] == error_code
    assert ("Retry-After" in result["headers"]) is retry_after
    assert sleeps == []  # only throttling is retried
    assert_no_internals(result)
    assert message not in result["body"]


def raise_on_send(runtime, exc):
    """Fail below the Stubber (at the HTTP send), the way a real timeout or network failure does."""

    def fail(**kwargs):
        raise exc

    # The Stubber answers in before-call; deactivate it so the request reaches the (failing) send step.
    runtime.deactivate()
    runtime.client.meta.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", fail)


def test_read_timeout_is_504(lam, config, context, event, runtime):
    raise_on_send(runtime, ReadTimeoutError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com"))

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 504
    assert body_of(result)["code"] == "model_timeout"
    assert_no_internals(result)


def test_unreachable_sagemaker_is_503(lam, config, context, event, runtime):
    raise_on_send(runtime, EndpointConnectionError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com"))

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 503
    assert result["headers"]["Retry-After"] == "1"


@pytest.mark.parametrize(
    "reply",
    [b"not json", b"[]", b'[{"label": "Positive"}]', b'[{"label": 1, "score": 0.5}]', b'{"label": "Positive"}'],
)
def test_unexpected_model_answer_is_502(lam, config, context, event, runtime, model_reply, reply):
    runtime.add_response("invoke_endpoint", model_reply(reply))

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 502
    assert body_of(result)["message"] == "the model returned an unexpected answer"


def test_client_has_botocore_retries_off_and_bounded_timeouts(lam, runtime):
    client_config = runtime.client.meta.config

    assert client_config.retries["total_max_attempts"] == 1
    assert client_config.read_timeout <= 28  # API Gateway gives up at 29 s
    assert client_config.connect_timeout <= 5


def test_read_timeout_leaves_time_to_answer_before_the_lambda_times_out(lam, aws_credentials, monkeypatch):
    monkeypatch.setattr(lam.sagemaker_endpoint, "_client", None)
    short = lam.sagemaker_endpoint.client(remaining_millis=9_000)
    assert short.meta.config.read_timeout == 7

    monkeypatch.setattr(lam.sagemaker_endpoint, "_client", None)
    monkeypatch.setenv("ENDPOINT_TIMEOUT_SECONDS", "12")
    assert lam.sagemaker_endpoint.client(remaining_millis=28_000).meta.config.read_timeout == 12
