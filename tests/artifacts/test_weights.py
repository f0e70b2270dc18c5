"""No pickle in the artifact: pytorch_model.bin is scanned, read weights-only (no torch), and packed as
model.safetensors that loads to exactly what torch's own weights_only load gives; a pickle that would run code is
refused by the scanner and, should the scanner miss it, by the unpickler, and nothing is built."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest

from hubdeploy.artifacts import weights
from hubdeploy.artifacts.manifest import MANIFEST_NAME
from hubdeploy.artifacts.standin import build_standin_model, install_in_hf_cache
from hubdeploy.cli import main
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin, write_pin
from hubdeploy.errors import ArtifactError
from tests.support.filetree import snapshot_tree

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")


def state_dict() -> OrderedDict:
    """Every shape of tensor a checkpoint can hold: dtypes, empty, a parameter, shared storage, strided views."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return OrderedDict(
        weight=base,
        transposed=base.t(),  # non-contiguous view of the same storage
        row=base[1],  # view at an offset
        every_other=base[:, ::2],
        tied=base,  # the same tensor under a second name (tied weights)
        half=torch.linspace(0, 1, 5, dtype=torch.float16),
        bf16=torch.ones(2, 2, dtype=torch.bfloat16),
        ids=torch.tensor([1, 2, 3], dtype=torch.int64),
        mask=torch.tensor([True, False]),
        empty=torch.zeros(0, 4),
        param=torch.nn.Parameter(torch.randn(2, 3)),
    )


def convert(source: Path) -> bytes:
    out = io.BytesIO()
    weights.convert_bin(source, out)
    return out.getvalue()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_converted_file_loads_to_exactly_what_torch_weights_only_gives(tmp_path: Path, legacy: bool) -> None:
    from safetensors.torch import load_file

    # given a state dict saved by torch, in the zip format (torch >= 1.6) or the legacy one
    source = tmp_path / "pytorch_model.bin"
    torch.save(state_dict(), source, _use_new_zipfile_serialization=not legacy)
    # when it is converted, twice
    first, second = convert(source), convert(source)
    # then the bytes are the same both times and safetensors loads the tensors torch.load(weights_only=True) gives
    assert first == second
    (tmp_path / "model.safetensors").write_bytes(first)
    converted = load_file(str(tmp_path / "model.safetensors"))
    reference = torch.load(source, weights_only=True)
    assert sorted(converted) == sorted(reference)
    for name, tensor in reference.items():
        assert converted[name].dtype == tensor.dtype, name
        assert converted[name].shape == tensor.shape, name
        assert torch.equal(converted[name], tensor.detach()), name
    header_len = int.from_bytes(first[:8], "little")
    assert header_len % 8 == 0
    assert json.loads(first[8 : 8 + header_len])["__metadata__"] == {"format": "pt"}


class RunsCode:
    """What a hostile checkpoint pickles: unpickling it would call os.system (never unpickled here)."""

    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned > /tmp/hubdeploy-pwned",))


class ExecsCode:
    def __reduce__(self) -> tuple:
        return (exec, ("import os",))


def malicious_bin(path: Path, payload: object, protocol: int = 2) -> Path:
    """A pytorch_model.bin zip laid out as torch.save writes it, whose data.pkl is `payload` pickled."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"bert.weight": payload}, protocol=protocol))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
    return path


# torch pickles with protocol 2, where builtins are named __builtin__; a hostile file may use any protocol
HOSTILE = [(RunsCode(), 2, "posix.system"), (ExecsCode(), 2, "__builtin__.exec"), (ExecsCode(), 4, "builtins.exec")]


@pytest.mark.parametrize(("payload", "protocol", "global_name"), HOSTILE)
def test_a_pickle_that_would_run_code_is_refused_by_the_scanner(tmp_path: Path, payload, protocol, global_name) -> None:
    source = malicious_bin(tmp_path / "pytorch_model.bin", payload, protocol)
    with pytest.raises(ArtifactError) as refused:
        convert(source)
    assert "pytorch_model.bin" in refused.value.message and "scanner" in refused.value.message
    assert global_name in refused.value.message
    assert not Path("/tmp/hubdeploy-pwned").exists()


@pytest.mark.parametrize(("payload", "protocol", "global_name"), HOSTILE)
def test_the_unpickler_refuses_it_too_if_the_scanner_were_bypassed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload, protocol, global_name
) -> None:
    source = malicious_bin(tmp_path / "pytorch_model.bin", payload, protocol)
    monkeypatch.setattr(weights, "scan", lambda path: None)  # a scanner that misses it
    with pytest.raises(ArtifactError) as refused:
        convert(source)
    assert refused.value.message == f"pytorch_model.bin imports {global_name}, which a weights-only load refuses"
    assert not Path("/tmp/hubdeploy-pwned").exists()


def test_a_pickle_that_is_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "pytorch_model.bin"
    torch.save({"step": 3, "weight": torch.ones(2)}, source)
    with pytest.raises(ArtifactError, match="entry 'step' is not a tensor"):
        convert(source)


# ---------------------------------------------------------------------------------------------------------------------
# build: a .bin-only revision gives a pickle-free, reproducible, servable archive


@pytest.fixture(scope="module")
def bin_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny stand-in (seed 0, the same weights as `tiny_model_dir`) saved as pytorch_model.bin only."""
    return build_standin_model(tmp_path_factory.mktemp("bin-model"), size="tiny", seed=0, weights_format="bin")


def pin_bin_revision(repo: Path, tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    cache = tmp_path / "hf-cache"
    revision = install_in_hf_cache(model_dir, cache, DEFAULT_HUB_MODEL_ID)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_pin(repo, "dev", ModelPin(DEFAULT_HUB_MODEL_ID, revision))
    return revision


def test_build_of_a_bin_only_revision_packs_safetensors_reproducibly(
    repo: Path, tmp_path: Path, bin_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_bin_revision(repo, tmp_path, bin_model_dir, monkeypatch)
    for out in ("a", "b"):
        assert main(["build", "--env", "dev", "--out", str(tmp_path / out)]) == 0
    digests = {hashlib.sha256((tmp_path / out / "model.tar.gz").read_bytes()).hexdigest() for out in ("a", "b")}
    assert len(digests) == 1, "two builds of the same .bin give the same archive"
    with tarfile.open(tmp_path / "a" / "model.tar.gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
    assert "model.safetensors" in names and not any(n.endswith(".bin") for n in names)
    assert manifest["converted"]["from"] == "pytorch_model.bin"
    assert (
        manifest["converted"]["from_sha256"]
        == hashlib.sha256((bin_model_dir / "pytorch_model.bin").read_bytes()).hexdigest()
    )
    assert manifest["converted"]["scanner"].startswith("picklescan ")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [MANIFEST_NAME, "lambda.zip", "model.tar.gz"]


def test_build_of_a_malicious_bin_is_refused_and_builds_nothing(
    repo: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    malicious_bin(folder / "pytorch_model.bin", RunsCode())
    pin_bin_revision(repo, tmp_path, folder, monkeypatch)
    before = snapshot_tree(repo)
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "pytorch_model.bin: the pickle scanner found dangerous globals: posix.system" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists(), "no archive, no half-written file, no folder left behind"
    assert snapshot_tree(repo) == before


@pytest.mark.model
def test_the_converted_archive_serves_the_same_answers_as_the_safetensors_one(
    repo: Path, tmp_path: Path, bin_model_dir: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubdeploy.local.toolkit import ToolkitModel

    body = json.dumps({"inputs": ["Net sales rose 12% to EUR 1.2bn.", "The outlook was cut."]}).encode()
    pin_bin_revision(repo, tmp_path, bin_model_dir, monkeypatch)
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "converted")]) == 0
    assert main(["build", "--env", "dev", "--out", str(tmp_path / "native"), "--model-dir", str(tiny_model_dir)]) == 0
    answers = []
    for name in ("converted", "native"):
        unpacked = tmp_path / f"{name}-opt-ml-model"
        with tarfile.open(tmp_path / name / "model.tar.gz") as tar:
            tar.extractall(unpacked, filter="data")
        answers.append(ToolkitModel(unpacked, environment={}).invoke(body).json())
    assert len(answers[0]) == 2 and answers[0] == answers[1]
