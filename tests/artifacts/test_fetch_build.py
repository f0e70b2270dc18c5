"""`hubdeploy fetch` from an offline HF cache and `hubdeploy build`: layout, reproducibility, failures."""

from __future__ import annotations

import builtins
import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from hubdeploy.artifacts import archive
from hubdeploy.artifacts.manifest import MANIFEST_NAME, Manifest
from hubdeploy.artifacts.standin import install_in_hf_cache
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from tests.support.filetree import snapshot_tree

pytestmark = pytest.mark.unit

TINY_FILES = ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_with(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, *, add=(), drop=()) -> str:
    """An offline cache holding a variant of the tiny model; returns its revision."""
    folder = tmp_path / "variant"
    shutil.copytree(tiny_model_dir, folder)
    for name in drop:
        (folder / name).unlink()
    for name, data in dict(add).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    cache = tmp_path / "variant-cache"
    revision = install_in_hf_cache(folder, cache, DEFAULT_HUB_MODEL_ID)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return revision


def member_names(tar_path: Path) -> list[str]:
    with tarfile.open(tar_path) as tar:
        return tar.getnames()


# ---------------------------------------------------------------------------------------------------------------------
# fetch


def test_fetch_offline_writes_a_manifest_of_the_serving_files(
    repo: Path, pinned: str, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "--env", "dev"]) == 0
    manifest = Manifest.read(repo / ".build" / "dev" / f"fetch-{MANIFEST_NAME}")
    assert manifest.hub_model_id == DEFAULT_HUB_MODEL_ID and manifest.hub_revision == pinned
    assert {f.path: f.sha256 for f in manifest.files} == {n: sha256(tiny_model_dir / n) for n in TINY_FILES}
    assert pinned in capsys.readouterr().out


def test_fetch_takes_only_what_serving_needs_and_prefers_safetensors(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extras = {"pytorch_model.bin": b"pkl", "flax_model.msgpack": b"flax", "README.md": b"hi", "onnx/model.onnx": b"x"}
    revision = cache_with(tmp_path, tiny_model_dir, monkeypatch, add=extras)
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    out = tmp_path / "m.json"
    assert main(["fetch", "--env", "dev", "--manifest", str(out)]) == 0
    assert [f.path for f in Manifest.read(out).files] == TINY_FILES


def test_fetch_falls_back_to_pytorch_bin(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = cache_with(
        tmp_path, tiny_model_dir, monkeypatch, add={"pytorch_model.bin": b"weights"}, drop=["model.safetensors"]
    )
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    out = tmp_path / "m.json"
    assert main(["fetch", "--env", "dev", "--manifest", str(out)]) == 0
    names = [f.path for f in Manifest.read(out).files]
    assert "pytorch_model.bin" in names and "model.safetensors" not in names


def test_fetch_missing_weights(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    revision = cache_with(tmp_path, tiny_model_dir, monkeypatch, drop=["model.safetensors"])
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    before = snapshot_tree(repo)
    assert main(["fetch", "--env", "dev"]) == 1
    assert "lacks weights (model.safetensors or pytorch_model.bin)" in capsys.readouterr().err
    assert snapshot_tree(repo) == before


def test_fetch_revision_not_in_offline_cache(repo: Path, hf_cache: tuple[Path, str], capsys) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "f" * 40))
    assert main(["fetch", "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert "not in the local HF cache" in err and "HF_HUB_OFFLINE" in err


def test_fetch_detects_a_corrupt_or_missing_cached_blob(
    repo: Path, pinned: str, hf_cache: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cache, _ = hf_cache
    weights = cache / "models--yiyanghkust--finbert-tone" / "snapshots" / pinned / "model.safetensors"
    blob = Path(os.path.realpath(weights))
    blob.write_bytes(blob.read_bytes()[:-1] + b"\0")
    assert main(["fetch", "--env", "dev"]) == 1
    assert "cached model.safetensors is corrupt" in capsys.readouterr().err
    blob.unlink()
    assert main(["fetch", "--env", "dev"]) == 1
    assert "model.safetensors is missing from the HF cache snapshot" in capsys.readouterr().err


def test_fetch_unpinned_env(repo: Path, hf_cache: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--env", "prod"]) == 1  # prod's committed pin is null until promoted
    assert "prod: hub_revision missing" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# build: layout


def test_build_from_the_pin_has_the_sagemaker_layout(repo: Path, pinned: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["build", "--env", "dev", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "lambda.zip", "model.tar.gz"]
    names = member_names(out / "model.tar.gz")
    code = sorted(f"code/{n}" for n, _ in archive.source_files(repo / "model" / "code", what="code"))
    assert names == [*sorted(["code", *code, *TINY_FILES]), MANIFEST_NAME]
    with tarfile.open(out / "model.tar.gz") as tar:
        for member in tar.getmembers():
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
            assert member.mtime == archive.FIXED_MTIME
            assert member.mode == (0o755 if member.isdir() else 0o644)
        inner = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
        assert tar.extractfile("code/inference.py").read() == (repo / "model/code/inference.py").read_bytes()  # type: ignore[union-attr]
    assert inner == json.loads((out / MANIFEST_NAME).read_text())
    assert inner["hub_revision"] == pinned and inner["source"] == "hub"
    assert {f["path"] for f in inner["files"]} == set(names) - {"code", MANIFEST_NAME}
    header = (out / "model.tar.gz").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08" and header[3] == 0 and header[4:8] == b"\0\0\0\0"  # no name, no mtime
    with zipfile.ZipFile(out / "lambda.zip") as zf:
        lambda_names = sorted(n for n, _ in archive.source_files(repo / "lambda", what="lambda"))
        assert zf.namelist() == lambda_names and "handler.py" in zf.namelist()
    printed = capsys.readouterr().out
    assert sha256(out / "model.tar.gz") in printed and sha256(out / "lambda.zip") in printed


def test_build_output_is_standard_gzip_and_roundtrips(repo: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    out = tmp_path / "out"
    assert main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(tiny_model_dir)]) == 0
    data = gzip.decompress((out / "model.tar.gz").read_bytes())  # the stdlib decoder, as SageMaker's tar would
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for name in TINY_FILES:
            assert tar.extractfile(name).read() == (tiny_model_dir / name).read_bytes()  # type: ignore[union-attr]
        assert json.loads(tar.extractfile(MANIFEST_NAME).read())["source"] == "local"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------------------------
# build: reproducibility


def _scramble(folder: Path, *, mtime: int, mode: int) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(mode)
            os.utime(path, (mtime, mtime))


def test_build_is_byte_reproducible_across_mtimes_modes_and_umask(
    repo: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    copy_a, copy_b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(tiny_model_dir, copy_a)
    shutil.copytree(tiny_model_dir, copy_b)
    _scramble(copy_a, mtime=1_000_000_000, mode=0o600)
    _scramble(copy_b, mtime=1_700_000_000, mode=0o755)
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "out-a"), "--model-dir", str(copy_a)]) == 0
    _scramble(repo / "model", mtime=1_234_567_890, mode=0o600)
    _scramble(repo / "lambda", mtime=1_234_567_890, mode=0o700)
    old_umask = os.umask(0o077)
    try:
        assert main(["build", "--env", "dev", "--out", str(tmp_path / "out-b"), "--model-dir", str(copy_b)]) == 0
    finally:
        os.umask(old_umask)
    for name in ("model.tar.gz", "lambda.zip", MANIFEST_NAME):
        assert sha256(tmp_path / "out-a" / name) == sha256(tmp_path / "out-b" / name), name


def test_gzip_bytes_do_not_depend_on_thread_count(tiny_model_dir: Path, tmp_path: Path) -> None:
    entries = [(n, tiny_model_dir / n) for n in TINY_FILES]
    manifest = Manifest(hub_model_id=DEFAULT_HUB_MODEL_ID, hub_revision=None)
    outputs = []
    for threads in (1, 2, 4):
        buf = io.BytesIO()
        archive.write_model_tar(buf, entries=entries, manifest=manifest, threads=threads)
        outputs.append(buf.getvalue())
    assert outputs[0] == outputs[1] == outputs[2]


def test_build_from_a_changed_model_gives_another_digest(
    repo: Path, tiny_model_dir: Path, tiny_model_dir_v2: Path, tmp_path: Path
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "v1"), "--model-dir", str(tiny_model_dir)]) == 0
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "v2"), "--model-dir", str(tiny_model_dir_v2)]) == 0
    assert sha256(tmp_path / "v1" / "model.tar.gz") != sha256(tmp_path / "v2" / "model.tar.gz")
    assert sha256(tmp_path / "v1" / "lambda.zip") == sha256(tmp_path / "v2" / "lambda.zip")


# ---------------------------------------------------------------------------------------------------------------------
# build: bad input leaves nothing behind


def _broken_model(tmp_path: Path, tiny_model_dir: Path, case: str) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    if case == "no-weights":
        (folder / "model.safetensors").unlink()
    elif case == "no-tokenizer":
        (folder / "vocab.txt").unlink()
    elif case == "no-config":
        (folder / "config.json").unlink()
    elif case == "no-id2label":
        config = json.loads((folder / "config.json").read_text())
        config.pop("id2label")
        (folder / "config.json").write_text(json.dumps(config))
    elif case == "dangling-weights":
        (folder / "model.safetensors").unlink()
        (folder / "model.safetensors").symlink_to(tmp_path / "gone.safetensors")
    elif case == "not-a-folder":
        return folder / "config.json"
    elif case == "missing-folder":
        return tmp_path / "nowhere"
    return folder


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-weights", "lacks weights (model.safetensors or pytorch_model.bin)"),
        ("no-tokenizer", "lacks tokenizer files"),
        ("no-config", "lacks config.json"),
        ("no-id2label", "has no id2label"),
        ("dangling-weights", "cannot read"),
        ("not-a-folder", "is not a folder"),
        ("missing-folder", "does not exist"),
    ],
)
def test_build_bad_model_folder(
    repo: Path, tiny_model_dir: Path, tmp_path: Path, case: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    out = tmp_path / "out"
    model_dir = _broken_model(tmp_path, tiny_model_dir, case)
    assert main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(model_dir)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


def deny_reading(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[str]:
    """Opening `target` fails with the kernel's EACCES, whoever runs the test (root reads a mode-000 file, and
    CI runs as root), through every Python-level way to open it: builtin open, io.open/Path.open, os.open.
    Other files open as usual. Returns the modes `target` was opened with, so a test can check the code tried.
    """
    real_open, real_os_open = io.open, os.open
    denied = os.path.realpath(target)
    attempts: list[str] = []

    def refuse(file: object, mode: str) -> None:
        if isinstance(file, str | bytes | os.PathLike) and os.path.realpath(os.fsdecode(file)) == denied:
            attempts.append(mode)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))

    def guarded_open(file, mode="r", *args, **kwargs):
        refuse(file, mode)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        refuse(path, f"os.open flags={flags:#o}")
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    return attempts


def test_build_unreadable_weights(
    repo: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # given a model folder whose weights file the OS refuses to open (permission denied)
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    folder = _broken_model(tmp_path, tiny_model_dir, "ok")
    weights = folder / "model.safetensors"
    weights.chmod(0)  # what a non-root user would meet; root needs the injected EACCES below
    attempts = deny_reading(monkeypatch, weights)
    out = tmp_path / "out"
    capsys.readouterr()
    # when building from it
    code = main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(folder)])
    # then one clear line naming the file and the reason, exit 1, and nothing built or half-written
    err = capsys.readouterr().err
    assert code == 1
    assert attempts, "build never opened the weights file"
    assert "cannot read" in err
    assert f"cannot read {weights}: Permission denied" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_build_of_weights_that_shrink_while_packed(
    repo: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # given weights that end before the size they had when opened (another process truncating them mid-build)
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    folder = _broken_model(tmp_path, tiny_model_dir, "ok")
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    real_fstat = os.fstat

    def fstat_before_truncation(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        if (st.st_dev, st.st_ino) != (weights.stat().st_dev, weights.stat().st_ino):
            return st
        fields = list(st)
        fields[6] = size + 4096  # st_size, as it was before the file lost its last 4 KiB
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", fstat_before_truncation)
    out = tmp_path / "out"
    capsys.readouterr()
    # when building from them
    code = main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(folder)])
    # then one line says which file changed, exit 1, and nothing is built or half-written
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot read {weights}: it ended after {size} of {size + 4096} bytes; it changed while being packed" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        ("model/code/inference.py", None, "lacks inference.py"),
        ("model/code/requirements.txt", None, "lacks requirements.txt"),
        ("model/code/requirements.txt", "transformers>=4\n", "unpinned requirements: transformers>=4"),
        ("lambda/handler.py", None, "lacks handler.py"),
    ],
)
def test_build_bad_repo_code(
    repo: Path,
    tiny_model_dir: Path,
    tmp_path: Path,
    rel: str,
    content: str | None,
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    if content is None:
        (repo / rel).unlink()
    else:
        (repo / rel).write_text(content)
    out = tmp_path / "out"
    assert main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(tiny_model_dir)]) == 1
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_build_failure_midway_keeps_the_previous_build(
    repo: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    out = tmp_path / "out"
    assert main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(tiny_model_dir)]) == 0
    before = snapshot_tree(out)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive, "write_lambda_zip", disk_full)
    capsys.readouterr()
    # then the CLI says it in one line (no traceback), exit 1
    assert main(["build", "--env", "dev", "--out", str(out), "--model-dir", str(tiny_model_dir)]) == 1
    err = capsys.readouterr().err
    assert "hubdeploy build: No space left on device" in err and "Traceback" not in err
    assert snapshot_tree(out) == before  # no temp files, old artifacts intact
    fresh = tmp_path / "fresh"
    assert main(["build", "--env", "dev", "--out", str(fresh), "--model-dir", str(tiny_model_dir)]) == 1
    assert not fresh.exists()


# ---------------------------------------------------------------------------------------------------------------------
# online fetch against the fake Hub (listing only: the weights check happens before any download)


def test_fetch_online_revision_without_weights(repo: Path, fake_hub, capsys: pytest.CaptureFixture[str]) -> None:
    fake_hub.add(DEFAULT_HUB_MODEL_ID, "d" * 40, ["config.json", "vocab.txt", "README.md"])
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, "main"))
    before = snapshot_tree(repo)
    assert main(["fetch", "--env", "dev"]) == 1
    assert f"{DEFAULT_HUB_MODEL_ID}@dddddddddddd lacks weights" in capsys.readouterr().err
    assert snapshot_tree(repo) == before


def test_fetch_hub_unreachable(repo: Path, pinned: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    assert main(["fetch", "--env", "dev"]) == 1
    assert "cannot reach the Hugging Face Hub at http://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["fetch", "--env", "qa"],
        ["build", "--env", "qa"],
        ["publish", "--env", "qa", "--bucket", "b"],
        ["pin", "--env", "QA"],
        ["promote", "qa", "prod"],
    ],
)
def test_every_command_rejects_an_unknown_env(repo: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot_tree(repo)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "unknown environment" in err and "use one of: dev, staging, prod" in err
    assert snapshot_tree(repo) == before
