"""The digest record: a file's sha256 is trusted only while its stat is unchanged, never when it changed just
before it was hashed; the record is only ever an optimisation (bad or unwritable records cost a re-hash)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from hubdeploy.artifacts import digests
from hubdeploy.artifacts.digests import RACY_NS, DigestRecord
from hubdeploy.artifacts.manifest import MANIFEST_NAME, hash_file
from hubdeploy.cli import main
from hubdeploy.settings import Settings, digest_record_of

pytestmark = pytest.mark.unit

FORGED = "f" * 64  # a digest no real file here has: seeing it proves the record answered, not a hash


def later(path: Path, by_ns: int = RACY_NS + 1) -> int:
    """A clock reading `by_ns` after the file's last change (mtime or ctime)."""
    st = path.stat()
    return max(st.st_mtime_ns, st.st_ctime_ns) + by_ns


def real_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def forge(record_path: Path, path: Path, sha256: str = FORGED) -> None:
    """A record saying `path`, as it is now, has `sha256`, hashed well after its last change."""
    st = path.stat()
    entry = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, later(path), sha256]
    record_path.write_text(json.dumps({"version": digests.VERSION, "files": {os.path.realpath(path): entry}}))


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(os.urandom(3 << 20))
    return path


def test_a_digest_is_remembered_and_trusted_while_the_file_is_unchanged(tmp_path: Path, weights: Path) -> None:
    record_path = tmp_path / "record" / "digests.json"
    first = DigestRecord(record_path, clock=lambda: later(weights))
    assert hash_file(weights, first).sha256 == real_sha256(weights)
    first.save()
    again = DigestRecord(record_path)
    assert again.known(weights, weights.stat()) == real_sha256(weights)
    forge(record_path, weights)  # the answer now comes from the record, with no read of the file
    assert hash_file(weights, DigestRecord(record_path)).sha256 == FORGED
    assert hash_file(weights, DigestRecord(record_path, trust=False)).sha256 == real_sha256(weights)
    assert hash_file(weights).sha256 == real_sha256(weights)  # no record: always hashed


@pytest.mark.parametrize("change", ["same-size rewrite, mtime put back", "append", "chmod", "touch", "replaced"])
def test_any_change_to_the_file_means_it_is_hashed_again(tmp_path: Path, weights: Path, change: str) -> None:
    record_path = tmp_path / "digests.json"
    forge(record_path, weights)
    before = weights.stat()
    if change == "same-size rewrite, mtime put back":
        with weights.open("r+b") as fh:
            fh.write(b"changed!")
        os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # ctime still moves: nobody can set it
    elif change == "append":
        with weights.open("ab") as fh:
            fh.write(b"\0")
    elif change == "chmod":
        weights.chmod(0o600)
    elif change == "touch":
        os.utime(weights)
    else:  # another file renamed over it: same name, another inode
        other = tmp_path / "other"
        shutil.copyfile(weights, other)
        os.replace(other, weights)
    assert DigestRecord(record_path).known(weights, weights.stat()) is None
    assert hash_file(weights, DigestRecord(record_path)).sha256 == real_sha256(weights)


def test_a_file_changed_just_before_its_hashing_is_not_recorded(tmp_path: Path, weights: Path) -> None:
    """A write in the same timestamp tick as the recorded stat would leave the stat as it was: such files are
    hashed again next time, until one hashing starts RACY_NS after their last change."""
    record_path = tmp_path / "digests.json"
    racy = DigestRecord(record_path, clock=lambda: later(weights, by_ns=RACY_NS // 2))
    hash_file(weights, racy)
    racy.save()
    assert not record_path.exists()
    settled = DigestRecord(record_path, clock=lambda: later(weights))
    hash_file(weights, settled)
    settled.save()
    assert DigestRecord(record_path).known(weights, weights.stat()) == real_sha256(weights)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"version": 99, "files": {}}', b'{"version": 1, "files": {"/x": [1, 2, "three"]}}', b"[]"],
    ids=["not-json", "other-version", "bad-entry", "not-an-object"],
)
def test_a_corrupt_record_only_costs_a_rehash_and_is_rewritten(
    tmp_path: Path, weights: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    record_path = tmp_path / "digests.json"
    record_path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        record = DigestRecord(record_path, clock=lambda: later(weights))
        assert hash_file(weights, record).sha256 == real_sha256(weights)
        record.save()
    assert content == b'{"version": 1, "files": {"/x": [1, 2, "three"]}}' or "digest record" in caplog.text
    assert DigestRecord(record_path).known(weights, weights.stat()) == real_sha256(weights)


def test_an_unwritable_record_is_a_warning_not_a_failure(
    tmp_path: Path, weights: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    record = DigestRecord(blocker / "digests.json", clock=lambda: later(weights))
    with caplog.at_level(logging.WARNING):
        assert hash_file(weights, record).sha256 == real_sha256(weights)
        record.save()
    assert "could not save the digest record" in caplog.text


def test_concurrent_saves_merge_and_the_record_keeps_only_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_path = tmp_path / "digests.json"
    files = [tmp_path / f"f{i}" for i in range(5)]
    for path in files:
        path.write_bytes(path.name.encode())
    one = DigestRecord(record_path, clock=lambda: later(files[0]))
    two = DigestRecord(record_path, clock=lambda: later(files[1]))  # loaded before `one` saves
    hash_file(files[0], one)
    hash_file(files[1], two)
    one.save()
    two.save()
    merged = DigestRecord(record_path)
    assert all(merged.known(p, p.stat()) == real_sha256(p) for p in files[:2])
    monkeypatch.setattr(digests, "MAX_ENTRIES", 3)
    for i, path in enumerate(files[2:], start=2):
        newer = DigestRecord(record_path, clock=lambda i=i: later(files[i], by_ns=RACY_NS + 10**12 * i))
        hash_file(path, newer)
        newer.save()
    kept = json.loads(record_path.read_text())["files"]
    assert sorted(kept) == sorted(os.path.realpath(p) for p in files[2:])


def test_where_the_record_lives(tmp_path: Path) -> None:
    assert digest_record_of({"HUBDEPLOY_DIGEST_RECORD": "off"}) is None
    assert digest_record_of({"HUBDEPLOY_DIGEST_RECORD": str(tmp_path / "r.json")}) == tmp_path / "r.json"
    assert digest_record_of({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "hubdeploy" / "digests.json"
    assert Settings.from_env({"HUBDEPLOY_DIGEST_RECORD": "OFF", "HUBDEPLOY_ROOT": str(tmp_path)}).digest_record is None


def test_build_trusts_the_record_and_rehash_does_not(
    repo: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hubdeploy build` packs a recorded file without hashing it (its manifest lists the recorded digest, the
    forged one here); `--rehash` hashes it again and puts the true digest back into the record."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    record_path = tmp_path / "digests.json"
    forge(record_path, model / "config.json")
    monkeypatch.setenv("HUBDEPLOY_DIGEST_RECORD", str(record_path))

    def listed(out: Path) -> str:
        files = json.loads((out / MANIFEST_NAME).read_text())["files"]
        return next(f["sha256"] for f in files if f["path"] == "config.json")

    assert main(["build", "--env", "dev", "--model-dir", str(model), "--out", str(tmp_path / "trusted")]) == 0
    assert listed(tmp_path / "trusted") == FORGED
    argv = ["build", "--env", "dev", "--model-dir", str(model), "--out", str(tmp_path / "rehashed"), "--rehash"]
    assert main(argv) == 0
    assert listed(tmp_path / "rehashed") == real_sha256(model / "config.json")


def test_a_file_changed_since_fetch_is_still_caught_when_its_digest_was_recorded(
    repo: Path, pinned: str, hf_cache: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """fetch records the cached files' digests and build then trusts them (so the weights are hashed once, not
    twice); a cached file changed between the two is hashed again, and the build refuses it."""
    monkeypatch.setattr(digests, "RACY_NS", 0)  # the fixture's files are seconds old: trust them at once
    trusted: list[str] = []
    known = DigestRecord.known

    def spy(self: DigestRecord, path: Path, st: os.stat_result) -> str | None:
        found = known(self, path, st)
        if found is not None:
            trusted.append(path.name)
        return found

    monkeypatch.setattr(DigestRecord, "known", spy)
    assert main(["fetch", "--env", "dev"]) == 0
    assert trusted == []
    assert main(["build", "--env", "dev"]) == 0
    assert trusted.count("model.safetensors") == 2  # the build's own fetch step, then the packing: no re-hash
    cache, _ = hf_cache
    config = cache / "models--yiyanghkust--finbert-tone" / "snapshots" / pinned / "config.json"
    blob = Path(os.path.realpath(config))
    before = blob.stat()
    blob.write_bytes(blob.read_bytes().replace(b"Positive", b"Positivf"))
    os.utime(blob, ns=(before.st_atime_ns, before.st_mtime_ns))
    capsys.readouterr()
    assert main(["build", "--env", "dev"]) == 1
    assert "config.json" in capsys.readouterr().err
