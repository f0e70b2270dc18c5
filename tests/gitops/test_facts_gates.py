"""Pin-time facts (licence, gated, files' sha256) recorded next to the pin, checked by the build, and the
licence allow-list of model-gates.toml that fails the PR check naming the licence and the file to change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hubdeploy import gates
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, facts_path, pin_path, write_pin
from hubdeploy.errors import UsageError
from tests.support.fakehub import FakeHub
from tests.support.filetree import snapshot_tree

pytestmark = pytest.mark.unit

SHA = "d" * 40
FILES = ["README.md", "config.json", "vocab.txt", "tokenizer_config.json", "pytorch_model.bin"]
CONTENTS = {name: f"{name} bytes\n".encode() for name in FILES}
SERVING = ["config.json", "pytorch_model.bin", "tokenizer_config.json", "vocab.txt"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def facts_of(repo: Path, env: str) -> dict:
    return json.loads(facts_path(repo, env).read_text())


@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add(
        DEFAULT_HUB_MODEL_ID,
        SHA,
        FILES,
        refs=("main",),
        contents=CONTENTS,
        lfs=("pytorch_model.bin",),
        card={"license": "Apache-2.0", "language": "en"},
    )
    return fake_hub


# ---------------------------------------------------------------------------------------------------------------------
# pin records the Hub's facts


def test_pin_records_licence_gated_and_every_serving_files_sha256_next_to_the_pin(repo: Path, hub: FakeHub) -> None:
    assert main(["pin", "--env", "staging", "--revision", "main"]) == 0
    facts = facts_of(repo, "staging")
    assert (facts["hub_model_id"], facts["hub_revision"]) == (DEFAULT_HUB_MODEL_ID, SHA)
    assert (facts["licence"], facts["gated"], facts["recorded_from"]) == ("apache-2.0", "no", "hub")
    assert [f["path"] for f in facts["files"]] == SERVING
    for entry in facts["files"]:
        assert entry == {
            "path": entry["path"],
            "size": len(CONTENTS[entry["path"]]),
            "sha256": sha256(CONTENTS[entry["path"]]),
        }
    # the LFS weights' sha256 came from the metadata; only the small non-LFS files were downloaded to be hashed
    assert sorted(hub.downloads) == ["config.json", "tokenizer_config.json", "vocab.txt"]
    # the pin file keeps only what Terraform declares
    assert json.loads(pin_path(repo, "staging").read_text()) == {
        "hub_model_id": DEFAULT_HUB_MODEL_ID,
        "hub_revision": SHA,
    }
    first = facts_path(repo, "staging").read_bytes()
    assert main(["pin", "--env", "staging", "--revision", SHA]) == 0
    assert facts_path(repo, "staging").read_bytes() == first, "the same commit gives the same facts file"


def test_licence_falls_back_to_the_hubs_license_tag_and_gated_is_recorded(repo: Path, fake_hub: FakeHub) -> None:
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA, FILES, contents=CONTENTS, tags=["bert", "license:mit"], gated="manual")
    assert main(["pin", "--env", "dev"]) == 0
    assert (facts_of(repo, "dev")["licence"], facts_of(repo, "dev")["gated"]) == ("mit", "manual")


def test_offline_pin_hashes_the_cached_files_and_reads_the_licence_from_a_cached_card(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for path in tiny_model_dir.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "README.md").write_text("---\nlicense: bsd-3-clause\n---\n# a card\n")
    revision = install_in_hf_cache(folder, tmp_path / "cache", DEFAULT_HUB_MODEL_ID)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["pin", "--env", "prod"]) == 0
    facts = facts_of(repo, "prod")
    assert (facts["hub_revision"], facts["licence"], facts["gated"]) == (revision, "bsd-3-clause", None)
    assert facts["recorded_from"] == "local HF cache"
    assert {f["path"]: f["sha256"] for f in facts["files"]} == {
        name: sha256((tiny_model_dir / name).read_bytes()) for name in sorted(p.name for p in tiny_model_dir.iterdir())
    }


def test_removing_a_pin_or_following_a_moving_ref_removes_its_facts_and_promote_copies_them(
    repo: Path, hub: FakeHub
) -> None:
    assert main(["pin", "--env", "dev"]) == 0
    assert main(["promote", "dev", "staging"]) == 0
    assert facts_of(repo, "staging") == facts_of(repo, "dev")
    assert main(["pin", "--env", "staging", "--remove"]) == 0
    assert not facts_path(repo, "staging").exists()
    assert main(["pin", "--env", "dev", "--revision", "main", "--no-resolve"]) == 0
    assert not facts_path(repo, "dev").exists()


def test_build_refuses_files_whose_sha256_differs_from_the_pin_time_facts(
    repo: Path, hf_cache: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given dev pinned (offline) with its facts, then a recorded digest that no longer matches the bytes
    assert main(["pin", "--env", "dev"]) == 0
    facts = facts_of(repo, "dev")
    facts["files"][0]["sha256"] = "0" * 64
    facts_path(repo, "dev").write_text(json.dumps(facts))
    # when it is built, then it is refused naming the file and the facts file, and nothing is written
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{facts['files'][0]['path']} has sha256" in err and "terraform/envs/dev/model.facts.json recorded" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------------------
# model-gates.toml


def test_the_repos_gates_restrict_staging_and_prod_and_leave_dev_open(repo_root: Path) -> None:
    loaded = gates.load(repo_root)
    assert loaded.for_env("dev").licences is None
    for env in ("staging", "prod"):
        assert loaded.for_env(env).licences == {"apache-2.0", "mit", "bsd-3-clause"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[staging\n", "is not valid TOML"),
        ('[qa]\nlicences = ["mit"]\n', "unknown environment [qa]"),
        ('[prod]\nlicenses = ["mit"]\n', "[prod] has unknown key(s) licenses"),
        ('[prod]\nlicences = "mit"\n', "[prod] licences must be a list of licence ids"),
        ("[prod]\nlicences = []\n", "[prod] licences is empty"),
        ('prod = "mit"\n', "prod must be a table"),
        ('[prod]\nunlicensed_accepted = ["a/b"]\n', "[prod] unlicensed_accepted must be a table"),
        ('[prod.unlicensed_accepted]\n"not a model" = "ok"\n', "'not a model' is not a Hub model id"),
        ('[prod.unlicensed_accepted]\n"a/b" = " "\n', "a/b needs the reason it may be used"),
    ],
)
def test_bad_gates_config_is_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as bad:
        gates.parse(Path("model-gates.toml"), text)
    assert bad.value.message.startswith("model-gates.toml: ") and expected in bad.value.message and bad.value.hint


def pinned(env: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["pinned", "--env", env])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_pinned_passes_an_allowed_licence(repo: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pin", "--env", "prod"]) == 0
    capsys.readouterr()
    code, out = pinned("prod", capsys)
    assert code == 0 and "prod: licence apache-2.0 of yiyanghkust/finbert-tone@dddddddddddd is allowed" in out


def test_pinned_fails_a_licence_outside_the_list_naming_it_and_the_file(
    repo: Path, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA, FILES, contents=CONTENTS, card={"license": "cc-by-nc-4.0"})
    assert main(["pin", "--env", "staging"]) == 0
    capsys.readouterr()
    code, out = pinned("staging", capsys)
    assert code == 1
    assert "licence 'cc-by-nc-4.0' of yiyanghkust/finbert-tone@dddddddddddd is not allowed" in out
    assert "model-gates.toml [staging] licences: apache-2.0, bsd-3-clause, mit" in out
    assert "add it to [staging] licences in model-gates.toml" in out


def test_pinned_without_facts_or_licence_fails_with_the_fix(
    repo: Path, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pin(repo, "prod", ModelPin(DEFAULT_HUB_MODEL_ID, SHA))  # a hand-written pin: no facts
    code, out = pinned("prod", capsys)
    assert code == 1 and "the licence of yiyanghkust/finbert-tone@dddddddddddd is unknown" in out
    assert f"run: hubdeploy pin --env prod --revision {SHA}" in out
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA, FILES, contents=CONTENTS)  # a card without a licence
    assert main(["pin", "--env", "prod"]) == 0
    code, out = pinned("prod", capsys)
    assert code == 1 and "declares no licence" in out
    assert f'[prod.unlicensed_accepted] "{DEFAULT_HUB_MODEL_ID}" = ' in out


def test_a_model_without_licence_passes_only_where_a_reviewed_exception_names_it(
    repo: Path, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add(DEFAULT_HUB_MODEL_ID, SHA, FILES, contents=CONTENTS)  # a card without a licence
    gates_file = repo / "model-gates.toml"
    gates_file.write_text(
        gates_file.read_text()
        + f'\n[prod.unlicensed_accepted]\n"{DEFAULT_HUB_MODEL_ID}" = "terms reviewed by legal, ticket 42"\n'
    )
    for env in ("staging", "prod"):
        assert main(["pin", "--env", env]) == 0
    capsys.readouterr()
    code, out = pinned("prod", capsys)
    assert code == 0 and "declares no licence; accepted by model-gates.toml [prod.unlicensed_accepted]" in out
    assert "terms reviewed by legal, ticket 42" in out
    assert pinned("staging", capsys)[0] == 1  # the exception is per environment


def test_dev_unrestricted_unpinned_envs_skipped_and_drift_can_skip_gates(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the repo's default state: dev follows main without facts, staging and prod are unpinned
    before = snapshot_tree(repo)
    assert pinned("dev", capsys)[0] == 0
    assert pinned("staging", capsys) == (0, "staging: not pinned yet: skipping (pin dev, then promote)\n")
    write_pin(repo, "prod", ModelPin(DEFAULT_HUB_MODEL_ID, SHA))
    assert main(["pinned", "--env", "prod", "--no-gates"]) == 0
    assert "prod: pinned" in capsys.readouterr().out
    (repo / "model-gates.toml").unlink()
    code, out = pinned("prod", capsys)
    assert code == 1 and "no model-gates.toml" in out
    assert set(snapshot_tree(repo)) - set(before) == set()
