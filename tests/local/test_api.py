"""The local API Gateway: proxy-event translation, Cognito JWT checks with tokens from the emulated pool,
and the repo's Lambda handler answering through the local runtime."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from hubdeploy.errors import TokenRejected
from hubdeploy.local.api import ApiConfig, LocalApi, Route, build_proxy_event
from hubdeploy.local.jwtauth import CognitoVerifier
from hubdeploy.local.lambdarun import LambdaFunction
from hubdeploy.local.tokens import TokenEndpoint
from tests.local.helpers import REPO_ROOT, Deployer

SCOPE = "hubdeploy-test/invoke"
ROUTE = Route(resource="/sentiment", method="POST", authorization="COGNITO_USER_POOLS", scopes=(SCOPE,))


class Pool:
    """A user pool shaped like the inference-api module's: resource server scope + machine client."""

    def __init__(self, endpoint_url: str) -> None:
        idp = boto3.client("cognito-idp")
        self.id = idp.create_user_pool(PoolName="hubdeploy-test")["UserPool"]["Id"]
        idp.create_resource_server(
            UserPoolId=self.id,
            Identifier="hubdeploy-test",
            Name="api",
            Scopes=[{"ScopeName": "invoke", "ScopeDescription": "x"}],
        )
        client = idp.create_user_pool_client(
            UserPoolId=self.id,
            ClientName="machine",
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=[SCOPE],
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]
        self.client_id, self.secret = client["ClientId"], client["ClientSecret"]
        self.tokens = TokenEndpoint(cognito=idp, user_pool_id=self.id, region="us-east-1")
        self.verifier = CognitoVerifier(
            issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{self.id}",
            jwks_url=f"{endpoint_url}/{self.id}/.well-known/jwks.json",
            client_ids=frozenset({self.client_id}),
        )

    def bearer(self) -> str:
        return "Bearer " + self.tokens.client_credentials(self.client_id, self.secret)["access_token"]

    def user_id_token(self) -> str:
        """An ID token from moto's own InitiateAuth for a password user (not what the API accepts)."""
        idp = boto3.client("cognito-idp")
        idp.admin_create_user(UserPoolId=self.id, Username="demo", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=self.id, Username="demo", Password="Passw0rd!Passw0rd", Permanent=True)
        auth = idp.admin_initiate_auth(
            UserPoolId=self.id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "demo", "PASSWORD": "Passw0rd!Passw0rd"},
        )
        return auth["AuthenticationResult"]["IdToken"]


@pytest.fixture
def pool(emulator) -> Pool:
    return Pool(emulator.endpoint_url)


@pytest.fixture
def api(
    runtime, deployer: Deployer, tiny_tar: bytes, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalApi]:
    """The gateway in front of the repo's lambda/ handler, which calls the local runtime."""
    deployer.deploy(tiny_tar)
    monkeypatch.setenv("ENDPOINT_NAME", deployer.endpoint_name)
    function = LambdaFunction(REPO_ROOT / "lambda", environment={"ENDPOINT_NAME": deployer.endpoint_name})
    gateway = LocalApi(
        ApiConfig(stage="v1", routes=[ROUTE], function=function, verifier=pool.verifier, token_endpoint=pool.tokens)
    ).start()
    yield gateway
    gateway.stop()


def post(api: LocalApi, body: object, *, headers: dict[str, str] | None = None, path: str = "/v1/sentiment"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = [("Content-Type", "application/json"), *(headers or {}).items()]
    return api.handle("POST", path, hdrs, raw)


@pytest.mark.unit
def test_proxy_event_has_the_rest_api_v1_shape() -> None:
    config = ApiConfig(stage="v1", routes=[ROUTE], function=None, api_id="abc123")  # type: ignore[arg-type]
    event = build_proxy_event(
        method="POST",
        path="/sentiment",
        query="a=1&a=2",
        headers=[("Content-Type", "application/json"), ("X-Trace", "1"), ("X-Trace", "2")],
        body=b'{"text": "hi"}',
        route=ROUTE,
        config=config,
        request_id="rid",
        claims={"scope": SCOPE},
    )
    assert event["httpMethod"] == "POST" and event["path"] == "/sentiment" and event["resource"] == "/sentiment"
    assert event["body"] == '{"text": "hi"}' and event["isBase64Encoded"] is False
    assert event["headers"]["X-Trace"] == "2" and event["multiValueHeaders"]["X-Trace"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2"} and event["multiValueQueryStringParameters"] == {
        "a": ["1", "2"]
    }
    ctx = event["requestContext"]
    assert (ctx["requestId"], ctx["stage"], ctx["path"], ctx["apiId"]) == ("rid", "v1", "/v1/sentiment", "abc123")
    assert ctx["authorizer"] == {"claims": {"scope": SCOPE}}
    binary = build_proxy_event(
        method="POST",
        path="/sentiment",
        query="",
        headers=[],
        body=b"\xff\xfe",
        route=ROUTE,
        config=config,
        request_id="r",
    )
    assert binary["isBase64Encoded"] is True and binary["body"] == "//4="


@pytest.mark.model
@pytest.mark.emulator
def test_single_and_batch_answers(api: LocalApi, pool: Pool) -> None:
    auth = {"Authorization": pool.bearer()}
    single = post(api, {"text": "Operating profit rose to EUR 41 mn."}, headers=auth)
    batch = post(api, {"texts": ["Sales fell.", "Profit rose.", "The AGM is on Tuesday."]}, headers=auth)
    assert single.status == 200, single.body
    data = json.loads(single.body)["data"]
    assert len(data) == 1 and data[0]["label"] in {"NEUTRAL", "POSITIVE", "NEGATIVE"} and 0 <= data[0]["score"] <= 1
    assert batch.status == 200 and len(json.loads(batch.body)["data"]) == 3
    assert single.headers["x-amzn-RequestId"]


@pytest.mark.model
@pytest.mark.emulator
def test_bad_requests_get_the_handlers_4xx(api: LocalApi, pool: Pool) -> None:
    auth = {"Authorization": pool.bearer()}
    assert post(api, b"not json", headers=auth).status == 400
    assert post(api, {"text": ""}, headers=auth).status == 400
    assert post(api, {"texts": ["x"] * 1000}, headers=auth).status in {400, 413}
    unknown = api.handle("GET", "/v1/sentiment", [("Authorization", pool.bearer())], b"")
    assert (unknown.status, json.loads(unknown.body)) == (403, {"message": "Missing Authentication Token"})


@pytest.mark.model
@pytest.mark.emulator
def test_requests_without_a_valid_token_are_401(api: LocalApi, pool: Pool) -> None:
    body = {"text": "Profit rose."}
    assert post(api, body).status == 401
    assert post(api, body, headers={"Authorization": "Bearer not-a-jwt"}).status == 401
    forged = pool.bearer()[:-8] + "AAAAAAAA"
    assert post(api, body, headers={"Authorization": forged}).status == 401
    # an ID token of a password user is signed by the pool but lacks the invoke scope: API Gateway says 401
    assert post(api, body, headers={"Authorization": pool.user_id_token()}).status == 401
    assert json.loads(post(api, body).body) == {"message": "Unauthorized"}


@pytest.mark.emulator
def test_verifier_checks_expiry_issuer_client_and_scope(pool: Pool) -> None:
    token = pool.bearer()
    claims = pool.verifier.verify(token, scopes=(SCOPE,))
    assert claims["client_id"] == pool.client_id and claims["scope"] == SCOPE
    with pytest.raises(TokenRejected, match="expired"):
        pool.verifier.verify(token, scopes=(SCOPE,), now=time.time() + 7200)
    with pytest.raises(TokenRejected, match="scope"):
        pool.verifier.verify(token, scopes=("other/scope",))
    other_client = CognitoVerifier(pool.verifier.issuer, pool.verifier.jwks_url, frozenset({"someone-else"}))
    with pytest.raises(TokenRejected, match="another app client"):
        other_client.verify(token, scopes=(SCOPE,))
    other_pool = CognitoVerifier(pool.verifier.issuer + "x", pool.verifier.jwks_url)
    with pytest.raises(TokenRejected, match="another user pool"):
        other_pool.verify(token, scopes=(SCOPE,))


@pytest.mark.emulator
def test_token_endpoint_checks_the_client_secret_and_scope(pool: Pool) -> None:
    import base64

    basic = base64.b64encode(f"{pool.client_id}:{pool.secret}".encode()).decode()
    status, answer = pool.tokens.handle_http({"Authorization": f"Basic {basic}"}, b"grant_type=client_credentials")
    assert status == 200 and answer["token_type"] == "Bearer" and answer["expires_in"] > 0
    wrong = base64.b64encode(f"{pool.client_id}:nope".encode()).decode()
    assert pool.tokens.handle_http({"Authorization": f"Basic {wrong}"}, b"grant_type=client_credentials") == (
        401,
        {"error": "invalid_client"},
    )
    body = b"grant_type=client_credentials&scope=admin/everything"
    assert pool.tokens.handle_http({"Authorization": f"Basic {basic}"}, body) == (400, {"error": "invalid_scope"})


@pytest.mark.unit
def test_a_handler_that_raises_or_answers_garbage_is_502(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "handler.py").write_text(
        "def handler(event, context):\n"
        "    if event['body'] == 'raise':\n        raise RuntimeError('boom')\n"
        "    return {'statusCode': 'not a number'}\n"
    )
    api = LocalApi(ApiConfig(stage="v1", routes=[Route("/sentiment", "POST")], function=LambdaFunction(code)))
    for body in (b"raise", b"garbage"):
        resp = api.handle("POST", "/sentiment", [], body)
        assert (resp.status, json.loads(resp.body)) == (502, {"message": "Internal server error"})


@pytest.mark.unit
def test_the_functions_environment_lasts_its_life_and_the_processs_own_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the process's own ENDPOINT_NAME, and no FUNCTION_ONLY
    monkeypatch.setenv("ENDPOINT_NAME", "the-process-own")
    monkeypatch.delenv("FUNCTION_ONLY", raising=False)
    code = tmp_path / "fn"
    code.mkdir()
    handler = "import os\ndef handler(event, context):\n    return os.environ['ENDPOINT_NAME']\n"
    (code / "handler.py").write_text(handler)
    # when a function is loaded, it sees its own environment for as long as it lives
    first = LambdaFunction(code, environment={"ENDPOINT_NAME": "first", "FUNCTION_ONLY": "1"})
    assert first.invoke({}) == "first" and os.environ["FUNCTION_ONLY"] == "1"
    # and the next one (a redeploy) starts from the process's values, not the previous function's
    second = LambdaFunction(code, environment={"ENDPOINT_NAME": "second"})
    assert second.invoke({}) == "second" and "FUNCTION_ONLY" not in os.environ
    first.close()  # no longer the loaded function: closing it changes nothing
    assert os.environ["ENDPOINT_NAME"] == "second"
    # then closing the gateway in front of it gives the process its own values back
    api = LocalApi(ApiConfig(stage="v1", routes=[Route("/sentiment", "POST")], function=second)).start()
    api.stop()
    assert os.environ["ENDPOINT_NAME"] == "the-process-own" and "FUNCTION_ONLY" not in os.environ
