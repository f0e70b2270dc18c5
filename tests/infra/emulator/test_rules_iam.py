"""IAM in the strict emulator: a role's permissions boundary must exist (iam_role_boundary_must_exist), and
requests signed by an assumed role are evaluated against its policies with AWS's logic
(assumed_role_requests_are_authorized, switched on with authz.enable())."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.infra.emulator import authz, policyeval

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
)


@pytest.fixture
def enforced() -> Iterator[None]:
    authz.enable()
    yield
    authz.disable()


def role_session(name: str, *statements: dict, boundary: str | None = None) -> boto3.Session:
    iam = boto3.client("iam", region_name="us-east-1")
    extra = {"PermissionsBoundary": boundary} if boundary else {}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, **extra)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="test-session"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def test_iam_role_boundary_must_exist(strictness: str) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/hubdeploy-stack-boundary"
    if strictness == "plain":
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=missing)
        return
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=missing)
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    assert "does not exist or is not attachable" in err.value.response["Error"]["Message"]
    ceiling = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.create_policy(PolicyName="hubdeploy-stack-boundary", PolicyDocument=json.dumps(ceiling))
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=missing)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.put_role_permissions_boundary(RoleName="r", PermissionsBoundary=missing + "-gone")


def test_assumed_role_requests_are_authorized(strictness: str, enforced: None) -> None:
    # given a role allowed to list buckets and to tag only its own environment's KMS keys
    session = role_session(
        "scoped",
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/hubdeploy:environment": ["dev"]}},
        },
    )
    session.client("s3").list_buckets()
    kms = session.client("kms")
    if strictness == "plain":  # moto lets every request through: nothing is checked
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="someone-elses")
        session.client("s3").delete_bucket(Bucket="someone-elses")
        kms.create_key(Tags=[{"TagKey": "hubdeploy:environment", "TagValue": "prod"}])
        return
    kms.create_key(Tags=[{"TagKey": "hubdeploy:environment", "TagValue": "dev"}])
    with pytest.raises(ClientError) as err:  # the condition is evaluated, not ignored
        kms.create_key(Tags=[{"TagKey": "hubdeploy:environment", "TagValue": "prod"}])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "not authorized to perform: kms:CreateKey on resource: *" in str(err.value)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="someone-elses")  # the root is not checked
    with pytest.raises(ClientError) as err:
        session.client("s3").delete_bucket(Bucket="someone-elses")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:DeleteBucket on resource: arn:aws:s3:::someone-elses" in str(err.value)
    assert any("s3:DeleteBucket" in d for d in authz.STATE.report()["denied"])


def test_a_permissions_boundary_caps_what_the_role_policy_allows(strictness: str, enforced: None) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    ceiling = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="ceiling", PolicyDocument=json.dumps(ceiling))["Policy"]["Arn"]
    session = role_session("bounded", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, boundary=arn)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bounded-bucket")
    session.client("s3").list_buckets()
    if strictness == "plain":
        session.client("s3").delete_bucket(Bucket="bounded-bucket")
        return
    with pytest.raises(ClientError, match="no permissions boundary allows the s3:DeleteBucket action"):
        session.client("s3").delete_bucket(Bucket="bounded-bucket")


def test_an_unmapped_call_is_refused_not_let_through(strictness: str, enforced: None) -> None:
    session = role_session("everything", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    if strictness == "plain":
        session.client("sns").create_topic(Name="t")
        return
    with pytest.raises(ClientError, match="cannot authorize sns"):
        session.client("sns").create_topic(Name="t")
    assert authz.STATE.report()["unmapped"]


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": ["b"]}, True),
        ({"StringEquals": {"k": "a"}}, {}, False),
        ({"StringNotEquals": {"k": "a"}}, {}, True),  # negated operators hold for an absent key
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringLike": {"k": "hubdeploy-*"}}, {"k": ["hubdeploy-dev"]}, True),
        ({"ArnLike": {"k": "arn:aws:iam::*:role/x-*"}}, {"k": ["arn:aws:iam::1:role/x-1"]}, True),
        ({"ArnEquals": {"k": "arn:aws:iam::1:policy/b"}}, {"k": ["arn:aws:iam::1:policy/c"]}, False),
        ({"Null": {"s3:if-none-match": "true"}}, {}, True),
        ({"Null": {"s3:if-none-match": "true"}}, {"s3:if-none-match": ["*"]}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:securetransport": ["true"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:tagkeys": ["a", "c"]}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:tagkeys": ["a", "c"]}, True),
        ({"StringEquals": {"k": "a"}, "Null": {"j": "false"}}, {"k": ["a"]}, False),  # operators are ANDed
    ],
)
def test_condition_operators_follow_aws(condition: dict, context: dict, holds: bool) -> None:
    assert policyeval.conditions_hold(condition, context) is holds


def test_explicit_deny_wins_and_wildcards_match_like_iam() -> None:
    doc = {
        "Statement": [
            {"Sid": "All", "Effect": "Allow", "Action": "sagemaker:*", "Resource": "arn:aws:sagemaker:*:*:model/hub-*"},
            {"Sid": "NoDelete", "Effect": "Deny", "Action": "sagemaker:Delete*", "Resource": "*"},
        ]
    }
    model = "arn:aws:sagemaker:us-east-1:1:model/hub-dev-1"
    assert policyeval.evaluate([doc], "sagemaker:CreateModel", model, {}).decision == "allow"
    assert policyeval.evaluate([doc], "SageMaker:createmodel", model, {}).decision == "allow"  # actions ignore case
    assert policyeval.evaluate([doc], "sagemaker:DeleteModel", model, {}) == policyeval.Outcome("deny", "NoDelete")
    other = "arn:aws:sagemaker:us-east-1:1:model/other"
    assert policyeval.evaluate([doc], "sagemaker:CreateModel", other, {}).decision == "implicit-deny"
    with pytest.raises(ValueError, match="not evaluated by the emulator"):
        policyeval.conditions_hold({"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}, {"aws:currenttime": ["x"]})
