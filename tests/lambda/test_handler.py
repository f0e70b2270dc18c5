"""The Lambda handler driven with recorded API Gateway events; SageMaker runtime stubbed with botocore's Stubber."""

from __future__ import annotations

import base64
import importlib
import json

import pytest

pytestmark = pytest.mark.unit

MODEL_3 = [
    {"label": "Positive", "score": 0.91},
    {"label": "Negative", "score": 0.77},
    {"label": "Neutral", "score": 0.64},
]


def body_of(result):
    return json.loads(result["body"])


def expect_call(runtime, model_reply, texts, entries, endpoint="hubdeploy-dev-finbert"):
    runtime.add_response(
        "invoke_endpoint",
        model_reply(entries),
        expected_params={
            "EndpointName": endpoint,
            "Body": json.dumps({"inputs": texts}, ensure_ascii=False).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
        },
    )


def test_single_text_gets_upper_cased_label_score_and_the_gateway_request_id(
    lam, config, context, event, runtime, model_reply
):
    text = "growth is strong and we have plenty of liquidity"
    expect_call(runtime, model_reply, [text], MODEL_3[:1])

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config)

    assert result["statusCode"] == 200
    assert result["headers"]["Content-Type"] == "application/json"
    assert body_of(result) == {
        "data": [{"label": "POSITIVE", "score": 0.91}],
        "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    }
    assert result["headers"]["X-Request-Id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_texts_keep_their_order_with_a_charset_content_type(lam, config, context, event, runtime, model_reply):
    ev = event("rest_post_texts.json")
    texts = json.loads(ev["body"])["texts"]
    expect_call(runtime, model_reply, texts, MODEL_3)

    result = lam.handler.handle(ev, context, config=config)

    assert result["statusCode"] == 200
    assert [d["label"] for d in body_of(result)["data"]] == ["POSITIVE", "NEGATIVE", "NEUTRAL"]


def test_base64_encoded_body_with_unicode(lam, config, context, event, runtime, model_reply):
    texts = ["Umsatz stieg um 5 % — Gewinn über Plan", "Net loss widened"]
    expect_call(runtime, model_reply, texts, MODEL_3[:2])

    result = lam.handler.handle(event("rest_post_texts_base64.json"), context, config=config)

    assert result["statusCode"] == 200, result["body"]
    assert len(body_of(result)["data"]) == 2


def test_http_api_v2_payload(lam, config, context, event, runtime, model_reply):
    expect_call(runtime, model_reply, ["Dividend raised by 10%", "Guidance withdrawn"], MODEL_3[:2])

    result = lam.handler.handle(event("httpapi_v2_post_texts.json"), context, config=config)

    assert result["statusCode"] == 200
    assert body_of(result)["request_id"] == "JKJaXmPLvHcESHA="


def test_custom_domain_base_path_routes_on_the_resource(lam, config, context, event, runtime, model_reply):
    ev = event("rest_post_text.json")
    ev["path"] = "/v1/sentiment"  # base-path mapping "v1" on a custom domain; resource stays "/sentiment"
    expect_call(runtime, model_reply, [json.loads(ev["body"])["text"]], MODEL_3[:1])

    assert lam.handler.handle(ev, context, config=config)["statusCode"] == 200


def test_greedy_proxy_resource_routes_on_the_path(lam, config, context, event, runtime):
    ev = event("rest_post_unknown_path.json")
    ev["resource"], ev["path"] = "/{proxy+}", "/" + "x" * 500

    result = lam.handler.handle(ev, context, config=config)

    assert result["statusCode"] == 404
    assert len(body_of(result)["message"]) < 120  # the client's path is echoed, but clipped


def test_v2_default_route_uses_the_raw_path_without_the_stage(lam, config, context, event, runtime, model_reply):
    ev = event("httpapi_v2_post_texts.json")
    ev["routeKey"] = "$default"
    expect_call(runtime, model_reply, ["Dividend raised by 10%", "Guidance withdrawn"], MODEL_3[:2])

    assert lam.handler.handle(ev, context, config=config)["statusCode"] == 200


@pytest.mark.parametrize(
    ("event_name", "status", "code", "message"),
    [
        ("rest_get_sentiment.json", 405, "method_not_allowed", "GET is not allowed: use POST"),
        ("rest_post_unknown_path.json", 404, "not_found", "no route /predict: use POST /sentiment"),
        ("rest_post_form.json", 415, "unsupported_media_type", "application/x-www-form-urlencoded is not supported"),
    ],
)
def test_wrong_method_path_or_content_type(lam, config, context, event, runtime, event_name, status, code, message):
    result = lam.handler.handle(event(event_name), context, config=config)

    assert result["statusCode"] == status
    assert body_of(result)["code"] == code
    assert message in body_of(result)["message"]
    if status == 405:
        assert result["headers"]["Allow"] == "POST"


def with_body(ev, body, *, content_type="application/json", b64=False):
    ev["headers"]["Content-Type"] = content_type
    if isinstance(body, bytes):
        ev["body"], ev["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        ev["body"], ev["isBase64Encoded"] = body, b64
    return ev


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "message"),
    [
        ('{"text": "unterminated', "application/json", 400, "malformed_json", "not valid JSON (line 1 column 10)"),
        ("", "application/json", 400, "invalid_body", "the request body is empty"),
        (None, "application/json", 400, "invalid_body", "the request body is empty"),
        ('["a", "b"]', "application/json", 400, "invalid_body", "must be a JSON object"),
        ('{"txt": "a"}', "application/json", 400, "unknown_field", "unknown field(s) txt"),
        ("{}", "application/json", 400, "missing_text", "exactly one of text or texts is required"),
        ('{"text": "a", "texts": ["b"]}', "application/json", 400, "missing_text", "exactly one of text or texts"),
        ('{"text": 5}', "application/json", 400, "invalid_text", "text must be a string"),
        ('{"text": null}', "application/json", 400, "invalid_text", "text must be a string"),
        ('{"text": ""}', "application/json", 400, "empty_text", "text is empty"),
        ('{"text": " \\t\\n"}', "application/json", 400, "empty_text", "text is empty"),
        (
            '{"text": "%s"}' % ("x" * 5001),
            "application/json",
            400,
            "text_too_long",
            "5001 characters, the limit is 5000",
        ),
        ('{"texts": "a"}', "application/json", 400, "invalid_texts", "texts must be a list of strings"),
        ('{"texts": []}', "application/json", 400, "empty_texts", "texts is an empty list"),
        ('{"texts": ["a", 1]}', "application/json", 400, "invalid_text", "texts[1] must be a string"),
        ('{"texts": ["a", ""]}', "application/json", 400, "empty_text", "texts[1] is empty"),
        (json.dumps({"texts": ["t"] * 33}), "application/json", 400, "too_many_texts", "33 texts, the limit is 32"),
        (b"\xff\xfe{}", "application/json", 400, "invalid_body", "not UTF-8"),
        ('{"text": "a"}', "text/plain", 415, "unsupported_media_type", "text/plain is not supported"),
        ('{"text": "a"}', "application/json; charset=latin-1", 415, "unsupported_media_type", "latin-1"),
        ('{"text": "a"}', "", 415, "unsupported_media_type", "Content-Type none is not supported"),
    ],
)
def test_bad_requests_get_a_clear_json_4xx_and_never_reach_the_endpoint(
    lam, config, context, event, runtime, body, content_type, status, code, message
):
    ev = with_body(event("rest_post_text.json"), body, content_type=content_type)

    result = lam.handler.handle(ev, context, config=config)

    assert result["statusCode"] == status
    assert body_of(result)["code"] == code
    assert message in body_of(result)["message"]
    assert body_of(result)["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    # The Stubber has no answer queued: an endpoint call would have turned into a 500.


def test_body_larger_than_the_limit_is_413_plain_or_base64(lam, context, event, runtime):
    config = lam.handler.Config(endpoint_name="e", max_body_bytes=100)
    body = json.dumps({"text": "x" * 200})

    plain = lam.handler.handle(with_body(event("rest_post_text.json"), body), context, config=config)
    encoded = lam.handler.handle(with_body(event("rest_post_text.json"), body.encode()), context, config=config)

    for result in (plain, encoded):
        assert result["statusCode"] == 413
        assert body_of(result)["message"] == "the request body is larger than 100 bytes: send fewer or shorter texts"


def test_invalid_base64_is_400(lam, config, context, event, runtime):
    ev = with_body(event("rest_post_text.json"), "not base64 at all!", b64=True)

    result = lam.handler.handle(ev, context, config=config)

    assert result["statusCode"] == 400
    assert "not valid base64" in body_of(result)["message"]


def test_limits_come_from_the_environment(lam):
    config = lam.handler.Config.from_env(
        {"ENDPOINT_NAME": "ep", "MAX_TEXTS": "4", "MAX_TEXT_CHARS": "100", "MAX_BODY_BYTES": "2048"}
    )
    assert config == lam.handler.Config("ep", 4, 100, 2048)
    assert lam.handler.Config.from_env({"ENDPOINT_NAME": "ep"}) == lam.handler.Config("ep", 32, 5000, 262144)
    with pytest.raises(lam.handler.ConfigError, match="ENDPOINT_NAME is not set"):
        lam.handler.Config.from_env({})
    with pytest.raises(lam.handler.ConfigError, match="MAX_TEXTS='-1' is not a positive integer"):
        lam.handler.Config.from_env({"ENDPOINT_NAME": "ep", "MAX_TEXTS": "-1"})


def test_module_reads_its_environment_once_and_a_bad_one_answers_500(lam, context, event, monkeypatch):
    monkeypatch.delenv("ENDPOINT_NAME", raising=False)
    try:
        module = importlib.reload(lam.handler)
        result = module.handler(event("rest_post_text.json"), context)
        assert result["statusCode"] == 500
        assert body_of(result) == {
            "message": "the service is misconfigured",
            "code": "misconfigured",
            "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        }
    finally:
        monkeypatch.setenv("ENDPOINT_NAME", "hubdeploy-dev-finbert")
        module = importlib.reload(lam.handler)
    assert module.Config("hubdeploy-dev-finbert") == module.CONFIG


def test_unexpected_failure_is_a_bare_500(lam, config, context, event, log_lines):
    def broken(endpoint, body):
        raise RuntimeError("secret internals /var/task/x.py")

    result = lam.handler.handle(event("rest_post_text.json"), context, config=config, call=broken)

    assert result["statusCode"] == 500
    assert body_of(result)["message"] == "internal error"
    assert "secret" not in result["body"]
    logged = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert logged[0]["exception"] == "RuntimeError"
    assert "secret" not in log_lines.getvalue()


def test_logs_are_json_with_request_id_and_never_the_text(lam, config, context, event, runtime, model_reply, log_lines):
    ev = event("rest_post_texts.json")
    texts = json.loads(ev["body"])["texts"]
    expect_call(runtime, model_reply, texts, MODEL_3)

    lam.handler.handle(ev, context, config=config)
    lam.handler.handle(
        with_body(event("rest_post_text.json"), '{"text": 7, "x": "Operating profit"}'), context, config=config
    )

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    done = [line for line in lines if line["message"] == "request completed"]
    assert [d["status"] for d in done] == [200, 400]
    assert done[0]["request_id"] == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert done[0]["texts"] == 3
    assert done[0]["lambda_request_id"] == context.aws_request_id
    assert done[1]["error_code"] == "unknown_field"
    assert "Operating profit" not in log_lines.getvalue()
    assert "Shares were flat" not in log_lines.getvalue()
