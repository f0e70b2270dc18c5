"""The demo's sample sentences: each answer is printed with the label a person would give when they differ, so
a reader (and tests/local/test_e2e.py) can tell a model that answers sensibly from one that does not."""

from __future__ import annotations

from typing import Any

import pytest

from hubdeploy.local import up

pytestmark = pytest.mark.unit


def test_an_answer_a_person_would_disagree_with_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(_method: str, _url: str, *, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        texts = body.get("texts") or [body["text"]]
        return 200, {"data": [{"label": "POSITIVE", "score": 0.9} for _ in texts]}

    monkeypatch.setattr(up, "http_json", answer)
    lines: list[str] = []
    up.ask_samples("http://127.0.0.1:1", {}, out=lines.append, standin=None)
    marked = [line for line in lines if "(a person would say" in line]
    # every sample but the positive one is marked, with the label it should have had
    assert len(marked) == len(up.SAMPLES) - 1
    assert any("(a person would say NEGATIVE)" in line for line in marked)
    assert any("(a person would say NEUTRAL)" in line for line in marked)
