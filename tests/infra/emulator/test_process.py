"""The emulator process: it starts, answers and leaves nothing behind in the temp folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from hubdeploy.infra.emulator.process import Emulator, answers

pytestmark = pytest.mark.emulator


def test_start_and_stop_leave_no_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # mkdtemp's default folder, for this test only
    with Emulator(log_path=tmp_path / "moto.log") as emu:
        assert answers(emu.endpoint_url)
        assert [p.name for p in tmp_path.iterdir()] == ["moto.log"], "the ready file's folder is gone once started"
    assert not answers(emu.endpoint_url)
