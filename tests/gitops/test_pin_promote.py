"""`hubdeploy pin` and `hubdeploy promote`: what ends up in the env's pin file, and what is refused."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, pin_path, write_pin
from tests.support.fakehub import FakeHub
from tests.support.filetree import snapshot_tree

pytestmark = pytest.mark.unit

SHA_MAIN = "a" * 40
SHA_V1 = "b" * 40
FILES = ["config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors", "pytorch_model.bin"]
# what the fake Hub serves for them (model_info(files_metadata=True) and /resolve/): the weights in LFS
CONTENTS = {name: f"{name} bytes\n".encode() for name in FILES}
LFS = ("model.safetensors", "pytorch_model.bin")


def pin_of(repo: Path, env: str) -> dict:
    return json.loads(pin_path(repo, env).read_text())


@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA_MAIN, FILES, refs=("main",), contents=CONTENTS, lfs=LFS)
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA_V1, FILES, refs=("v1.0",), contents=CONTENTS, lfs=LFS)
    return fake_hub


def test_pin_resolves_a_branch_to_its_commit(repo: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin", "--env", "dev", "--revision", "main"]) == 0
    assert pin_of(repo, "dev") == {"hub_model_id": DEFAULT_HUB_MODEL_ID, "hub_revision": SHA_MAIN}
    assert f"{DEFAULT_HUB_MODEL_ID}@{SHA_MAIN} (main)" in capsys.readouterr().out


def test_pin_resolves_a_tag_for_prod_and_keeps_other_keys(repo: Path, hub: FakeHub) -> None:
    path = pin_path(repo, "prod")
    path.write_text(json.dumps({"hub_model_id": DEFAULT_HUB_MODEL_ID, "hub_revision": None, "note": "kept"}))
    assert main(["pin", "--env", "prod", "--revision", "v1.0"]) == 0
    assert pin_of(repo, "prod") == {"hub_model_id": DEFAULT_HUB_MODEL_ID, "hub_revision": SHA_V1, "note": "kept"}


def test_pin_defaults_to_main_and_checks_a_given_sha_exists(repo: Path, hub: FakeHub) -> None:
    assert main(["pin", "--env", "staging"]) == 0
    assert pin_of(repo, "staging")["hub_revision"] == SHA_MAIN
    assert main(["pin", "--env", "staging", "--revision", SHA_V1]) == 0
    assert pin_of(repo, "staging")["hub_revision"] == SHA_V1
    assert any(SHA_V1 in request for request in hub.requests)


def test_pin_sends_hf_token(repo: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert main(["pin", "--env", "dev"]) == 0
    assert hub.authorizations[-1] == "Bearer hf_secret"


def test_pin_can_switch_model(repo: Path, hub: FakeHub) -> None:
    hub.add("acme/other-model", "c" * 40, FILES, contents=CONTENTS, lfs=LFS)
    assert main(["pin", "--env", "dev", "--model-id", "acme/other-model"]) == 0
    assert pin_of(repo, "dev") == {"hub_model_id": "acme/other-model", "hub_revision": "c" * 40}


def test_no_resolve_keeps_a_moving_ref_for_dev_with_a_warning(
    repo: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pin", "--env", "dev", "--revision", "main", "--no-resolve"]) == 0
    assert pin_of(repo, "dev")["hub_revision"] == "main"
    assert "moving ref" in capsys.readouterr().err
    assert hub.requests == []  # nothing asked of the Hub


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_moving_ref_is_refused_for_staging_and_prod(
    repo: Path, hub: FakeHub, env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot_tree(repo)
    assert main(["pin", "--env", env, "--revision", "main", "--no-resolve"]) == 1
    err = capsys.readouterr().err
    assert "moving ref" in err and "hubdeploy promote dev" in err and "Traceback" not in err
    assert snapshot_tree(repo) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--revision", "nope"], "revision 'nope' not found in yiyanghkust/finbert-tone"),
        (["--model-id", "acme/missing"], "model acme/missing not found on the Hub"),
        (["--model-id", "not a repo id!"], "is not a Hub repository id"),
    ],
)
def test_pin_bad_revision_or_model_leaves_the_pin_alone(
    repo: Path, hub: FakeHub, args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot_tree(repo)
    assert main(["pin", "--env", "dev", *args]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot_tree(repo) == before


def test_pin_hub_unreachable(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    before = snapshot_tree(repo)
    assert main(["pin", "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Hugging Face Hub" in err and "HF_HUB_OFFLINE=1" in err
    assert snapshot_tree(repo) == before


def test_pin_hub_error_status(repo: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    hub.status_override = 503
    assert main(["pin", "--env", "dev"]) == 1
    assert "HTTP 503" in capsys.readouterr().err


def test_pin_offline_resolves_from_the_cache(
    repo: Path, hf_cache: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, revision = hf_cache
    assert main(["pin", "--env", "dev", "--revision", "main"]) == 0
    assert pin_of(repo, "dev")["hub_revision"] == revision
    assert "resolved from the local HF cache" in capsys.readouterr().err


def test_pin_offline_unknown_ref(repo: Path, hf_cache: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin", "--env", "dev", "--revision", "v9"]) == 1
    assert "not in the local HF cache" in capsys.readouterr().err


def test_unknown_env(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin", "--env", "qa"]) == 1
    assert "unknown environment 'qa'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# promote


def test_promote_copies_the_pin_and_changes_only_that_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, SHA_MAIN))
    before = snapshot_tree(repo)
    assert main(["promote", "dev", "staging"]) == 0
    after = snapshot_tree(repo)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"terraform/envs/staging/model.auto.tfvars.json"}
    assert pin_of(repo, "staging") == {"hub_model_id": DEFAULT_HUB_MODEL_ID, "hub_revision": SHA_MAIN}
    assert "promoted" in capsys.readouterr().out
    assert main(["promote", "staging", "prod"]) == 0
    assert pin_of(repo, "prod")["hub_revision"] == SHA_MAIN


def test_promote_refuses_a_moving_ref(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    before = snapshot_tree(repo)
    assert main(["promote", "dev", "staging"]) == 1
    err = capsys.readouterr().err
    assert "only a commit SHA can be promoted" in err and "hubdeploy pin --env dev" in err
    assert snapshot_tree(repo) == before


@pytest.mark.parametrize(
    ("src", "dst", "expected"),
    [
        ("staging", "dev", "promotion goes dev -> staging -> prod"),
        ("dev", "dev", "promotion goes"),
        ("staging", "prod", "staging: hub_revision missing"),  # staging is not pinned yet
        ("dev", "uat", "unknown environment 'uat'"),
    ],
)
def test_promote_bad_input(repo: Path, src: str, dst: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, SHA_MAIN))
    pin_path(repo, "staging").write_text(json.dumps({"hub_model_id": DEFAULT_HUB_MODEL_ID, "hub_revision": None}))
    before = snapshot_tree(repo)
    assert main(["promote", src, dst]) == 1
    assert expected in capsys.readouterr().err
    assert snapshot_tree(repo) == before


def test_promote_invalid_pin_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin_path(repo, "dev").write_text("{not json")
    assert main(["promote", "dev", "staging"]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
