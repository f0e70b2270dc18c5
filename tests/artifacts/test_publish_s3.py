"""`hubdeploy publish` against moto: keys, idempotency, no overwrite, multipart, interruption, bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hubdeploy.artifacts import build as artifact_build
from hubdeploy.artifacts import publish
from hubdeploy.cli import main
from hubdeploy.envs import ARTIFACT_VARIABLES, DEFAULT_HUB_MODEL_ID, ModelPin, artifacts_path, write_pin
from hubdeploy.errors import AwsError
from hubdeploy.settings import Settings
from tests.support.aws import ARTIFACT_BUCKET
from tests.support.filetree import snapshot_tree

MiB = 1024 * 1024
KEY_RE = r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-[0-9a-f]{12}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_keys(s3: Any, bucket: str = ARTIFACT_BUCKET) -> dict[str, str]:
    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in objects}


class CountingS3:
    """A boto3 client proxy that counts body bytes sent, and can fail on a chosen call."""

    def __init__(self, client: Any, *, fail_on: str | None = None, fail_at: int = 1, exc: BaseException | None = None):
        self._client = client
        self.sent = 0
        self.parts_sent = 0
        self.calls: list[str] = []
        self.fail_on, self.fail_at, self.exc = fail_on, fail_at, exc

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            if name == self.fail_on and self.calls.count(name) == self.fail_at:
                raise self.exc or ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, name)
            body = kwargs.get("Body")
            if name in {"put_object", "upload_part"} and body is not None:
                size = len(body) if isinstance(body, bytes) else os.fstat(body.fileno()).st_size
                self.sent += size
                self.parts_sent += size if name == "upload_part" else 0
            return method(**kwargs)

        return call


@pytest.fixture
def built(repo: Path, pinned: str) -> Path:
    """dev built from its pin (offline cache) into .build/dev."""
    artifact_build.build(Settings.from_env(), env="dev")
    return repo / ".build" / "dev"


def read_tfvars(repo: Path, env: str) -> dict:
    return json.loads(artifacts_path(repo, env).read_text())


@pytest.mark.unit
def test_publish_uploads_under_timestamped_keys_and_writes_tfvars(
    repo: Path, built: Path, pinned: str, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", "--env", "dev", "--git-commit", "c0ffee"]) == 0
    tfvars = read_tfvars(repo, "dev")
    assert list(tfvars) == list(ARTIFACT_VARIABLES)
    model_key = tfvars["model_data_url"].removeprefix(f"s3://{ARTIFACT_BUCKET}/")
    assert re.fullmatch(rf"yiyanghkust--finbert-tone/{KEY_RE}/model\.tar\.gz", model_key)
    assert re.fullmatch(rf"lambda/{KEY_RE}/lambda\.zip", tfvars["lambda_s3_key"])
    assert tfvars["artifact_bucket"] == ARTIFACT_BUCKET  # default: naming rule with the STS account
    assert tfvars["model_artifact_sha256"] == sha256(built / "model.tar.gz")
    assert tfvars["lambda_artifact_sha256"] == sha256(built / "lambda.zip")
    digest = hashlib.sha256((built / "lambda.zip").read_bytes()).digest()
    assert tfvars["lambda_source_code_hash"] == base64.b64encode(digest).decode()
    assert "git_commit" not in tfvars, "the commit stays out of Terraform (a docs-only commit plans no changes)"
    body = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=model_key)["Body"].read()
    assert body == (built / "model.tar.gz").read_bytes()
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=ARTIFACT_BUCKET, Key=model_key)["TagSet"]}
    assert tags["hubdeploy:hub-model-id"] == DEFAULT_HUB_MODEL_ID
    assert tags["hubdeploy:hub-revision"] == pinned
    assert tags["hubdeploy:git-commit"] == "c0ffee"  # provenance: on the object and in its index entry
    index = json.loads(
        s3.get_object(Bucket=ARTIFACT_BUCKET, Key=publish.index_key(sha256(built / "model.tar.gz")))["Body"].read()
    )
    assert index["git_commit"] == "c0ffee" and index["key"] == model_key
    head = s3.head_object(Bucket=ARTIFACT_BUCKET, Key=model_key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(tfvars["model_artifact_sha256"])).decode()
    assert head["Metadata"]["sha256"] == tfvars["model_artifact_sha256"]
    assert model_key in capsys.readouterr().out


@pytest.mark.unit
def test_republish_uploads_nothing_and_returns_the_same_keys(repo: Path, built: Path, s3: Any) -> None:
    settings = Settings.from_env()
    first = publish.publish(settings, env="dev", artifacts_dir=built, commit="c1")
    keys_before = all_keys(s3)
    counting = CountingS3(s3)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    again = publish.publish(
        settings, env="dev", artifacts_dir=built, commit="c2", now=later, s3_factory=lambda: counting
    )
    assert again.bytes_uploaded == 0 and counting.sent == 0
    assert "put_object" not in counting.calls and "upload_part" not in counting.calls
    assert (again.model.key, again.lambda_zip.key) == (first.model.key, first.lambda_zip.key)
    assert all_keys(s3) == keys_before


@pytest.mark.unit
def test_same_build_published_from_another_commit_writes_identical_tfvars(repo: Path, built: Path, s3: Any) -> None:
    # given the build published from the PR's commit
    settings = Settings.from_env()
    first = publish.publish(settings, env="dev", artifacts_dir=built, commit="a" * 40)
    tfvars_first = artifacts_path(repo, "dev").read_bytes()
    # when a docs-only commit publishes the same bytes again, later
    again = publish.publish(
        settings, env="dev", artifacts_dir=built, commit="b" * 40, now=datetime(2030, 1, 1, tzinfo=UTC)
    )
    # then Terraform gets byte-identical values (nothing to plan), and the provenance names the first publisher
    assert artifacts_path(repo, "dev").read_bytes() == tfvars_first
    assert again.artifacts == first.artifacts
    assert (again.model.first_commit, again.lambda_zip.first_commit) == ("a" * 40, "a" * 40)
    assert again.commit == "b" * 40
    tags = s3.get_object_tagging(Bucket=ARTIFACT_BUCKET, Key=again.model.key)["TagSet"]
    assert {"Key": "hubdeploy:git-commit", "Value": "a" * 40} in tags


@pytest.mark.unit
def test_promoted_env_resolves_to_the_same_keys(repo: Path, built: Path, s3: Any) -> None:
    assert main(["publish", "--env", "dev"]) == 0
    assert main(["promote", "dev", "staging"]) == 0
    assert main(["build", "--env", "staging"]) == 0  # a separate build, e.g. on the merge commit
    assert main(["publish", "--env", "staging"]) == 0
    dev, staging = read_tfvars(repo, "dev"), read_tfvars(repo, "staging")
    assert dev["model_data_url"] == staging["model_data_url"] and dev["lambda_s3_key"] == staging["lambda_s3_key"]


@pytest.mark.unit
def test_never_overwrites_an_existing_key(built: Path, s3: Any) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    path = built / "lambda.zip"
    key = publish.artifact_key("lambda", "lambda.zip", sha256(path), now=now)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=b"someone else's bytes")
    with pytest.raises(AwsError, match="exists with other contents"):
        publish.publish_file(s3, bucket=ARTIFACT_BUCKET, path=path, prefix="lambda", tags={}, now=now)
    assert s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read() == b"someone else's bytes"


@pytest.mark.unit
def test_conditional_put_is_sent_and_a_store_without_it_gets_a_fallback(
    built: Path, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class NoConditionalWrites(CountingS3):
        def __getattr__(self, name: str) -> Any:
            inner = super().__getattr__(name)

            def call(**kwargs: Any) -> Any:
                if "IfNoneMatch" in kwargs:
                    raise ClientError({"Error": {"Code": "NotImplemented", "Message": "no"}}, name)
                return inner(**kwargs)

            return call

    client = NoConditionalWrites(s3)
    result = publish.publish_file(client, bucket=ARTIFACT_BUCKET, path=built / "lambda.zip", prefix="lambda", tags={})
    assert s3.head_object(Bucket=ARTIFACT_BUCKET, Key=result.key)["Metadata"]["sha256"] == result.sha256
    assert "does not support conditional writes" in caplog.text


def _big_file(tmp_path: Path, size: int = 12 * MiB) -> Path:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(os.urandom(size))
    return path


def _small_parts() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)


@pytest.mark.unit
def test_large_files_go_multipart_with_checksums(tmp_path: Path, s3: Any) -> None:
    path = _big_file(tmp_path)
    counting = CountingS3(s3)
    tags = {"hubdeploy:hub-model-id": "a/b", "hubdeploy:hub-revision": "r", "hubdeploy:git-commit": "g"}
    result = publish.publish_file(
        counting, bucket=ARTIFACT_BUCKET, path=path, prefix="a--b", tags=tags, config=_small_parts()
    )
    assert counting.calls.count("upload_part") == 3 and counting.parts_sent == path.stat().st_size
    assert s3.get_object(Bucket=ARTIFACT_BUCKET, Key=result.key)["Body"].read() == path.read_bytes()
    head = s3.head_object(Bucket=ARTIFACT_BUCKET, Key=result.key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"]  # composite: S3 checksums the part checksums
    assert head["Metadata"]["sha256"] == sha256(path)
    tagset = s3.get_object_tagging(Bucket=ARTIFACT_BUCKET, Key=result.key)["TagSet"]
    assert {"Key": "hubdeploy:hub-revision", "Value": "r"} in tagset


@pytest.mark.unit
@pytest.mark.parametrize("failure", [None, KeyboardInterrupt()])
def test_interrupted_multipart_leaves_nothing_and_a_rerun_completes(
    tmp_path: Path, s3: Any, failure: BaseException | None
) -> None:
    path = _big_file(tmp_path)
    failing = CountingS3(s3, fail_on="upload_part", fail_at=2, exc=failure)
    expected = KeyboardInterrupt if failure else AwsError
    with pytest.raises(expected):
        publish.publish_file(failing, bucket=ARTIFACT_BUCKET, path=path, prefix="a--b", tags={}, config=_small_parts())
    assert all_keys(s3) == {}  # no object, no index entry
    assert s3.list_multipart_uploads(Bucket=ARTIFACT_BUCKET).get("Uploads", []) == []  # aborted
    result = publish.publish_file(s3, bucket=ARTIFACT_BUCKET, path=path, prefix="a--b", tags={}, config=_small_parts())
    assert s3.get_object(Bucket=ARTIFACT_BUCKET, Key=result.key)["Body"].read() == path.read_bytes()
    assert set(all_keys(s3)) == {result.key, publish.index_key(result.sha256)}


@pytest.mark.unit
def test_index_pointing_to_a_deleted_object_is_repaired(built: Path, s3: Any) -> None:
    path = built / "lambda.zip"
    first = publish.publish_file(s3, bucket=ARTIFACT_BUCKET, path=path, prefix="lambda", tags={})
    s3.delete_object(Bucket=ARTIFACT_BUCKET, Key=first.key)
    later = datetime(2031, 1, 1, tzinfo=UTC)
    second = publish.publish_file(s3, bucket=ARTIFACT_BUCKET, path=path, prefix="lambda", tags={}, now=later)
    assert second.key != first.key and second.bytes_uploaded == path.stat().st_size
    third = publish.publish_file(s3, bucket=ARTIFACT_BUCKET, path=path, prefix="lambda", tags={})
    assert third.key == second.key and third.bytes_uploaded == 0


# ---------------------------------------------------------------------------------------------------------------------
# bad input: one line, exit 1, no tfvars written


def _fails(repo: Path, args: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot_tree(repo / "terraform")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert snapshot_tree(repo / "terraform") == before


@pytest.mark.unit
def test_publish_missing_bucket(repo: Path, built: Path, s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(repo, ["publish", "--env", "dev", "--bucket", "nope-bucket"], "bucket nope-bucket does not exist", capsys)


@pytest.mark.unit
def test_publish_without_a_build(repo: Path, pinned: str, s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(repo, ["publish", "--env", "dev"], "no model.tar.gz in", capsys)


@pytest.mark.unit
def test_publish_build_of_another_revision(
    repo: Path, built: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "e" * 40))
    _fails(repo, ["publish", "--env", "dev"], f"but dev pins {'e' * 40}", capsys)


@pytest.mark.unit
def test_publish_local_folder_build_to_staging_is_refused(
    repo: Path, pinned: str, tiny_model_dir: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--env", "staging", "--model-dir", str(tiny_model_dir)]) == 0
    _fails(repo, ["publish", "--env", "staging"], "the build comes from a local folder", capsys)


@pytest.mark.unit
def test_publish_without_credentials(
    repo: Path, built: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _fails(repo, ["publish", "--env", "dev", "--bucket", ARTIFACT_BUCKET], "no AWS credentials found", capsys)


@pytest.mark.unit
def test_publish_access_denied(repo: Path, built: Path, s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from moto.core import enable_iam_authentication

    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]  # restored by the aws_credentials fixture
    os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    os.environ.pop("AWS_SESSION_TOKEN", None)
    with enable_iam_authentication():
        _fails(repo, ["publish", "--env", "dev", "--bucket", ARTIFACT_BUCKET], "access denied", capsys)


@pytest.mark.emulator
def test_bootstrap_then_publish_through_the_emulator(repo: Path, built: Path, emulator: Any) -> None:
    """The demo path: every client goes to moto_server via AWS_ENDPOINT_URL; the default bucket is used."""
    assert main(["bootstrap", "--env", "dev"]) == 0
    assert main(["publish", "--env", "dev"]) == 0
    tfvars = read_tfvars(repo, "dev")
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    model_key = tfvars["model_data_url"].removeprefix(f"s3://{ARTIFACT_BUCKET}/")
    assert s3.get_object(Bucket=ARTIFACT_BUCKET, Key=model_key)["Body"].read() == (built / "model.tar.gz").read_bytes()
    assert main(["publish", "--env", "dev"]) == 0
    assert read_tfvars(repo, "dev") == tfvars
