"""GitHub Actions runner I/O, in one place: step outputs, the job summary, masked values, the event payload.

Each writes only when the run is in Actions (the runner sets GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
GITHUB_EVENT_PATH; Settings carries them), so the same commands run unchanged on a laptop.
https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import UsageError

if TYPE_CHECKING:
    from hubdeploy.settings import Settings


def _step_value(value: str | bool | int) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text:
        # One `name=value` line per output; multi-line values would need the heredoc form, which we never use.
        raise UsageError(f"step output value {text[:40]!r} spans lines", hint="this is a bug: report it")
    return text


def set_outputs(settings: Settings, **outputs: str | bool | int) -> None:
    """Append `name=value` lines to the step's GITHUB_OUTPUT file (booleans as true/false); no-op outside Actions.

    Names use `-` where Python has `_` (`plan_hash` -> `plan-hash`), as workflow expressions read them.
    """
    if settings.github_output is None:
        return
    lines = "".join(f"{name.replace('_', '-')}={_step_value(value)}\n" for name, value in outputs.items())
    with settings.github_output.open("a", encoding="utf-8") as fh:
        fh.write(lines)


def set_env(settings: Settings, **values: str) -> None:
    """Append `NAME=value` lines to GITHUB_ENV, so the job's later steps see them; no-op outside Actions.

    Names are kept as given (environment variables are case-sensitive). A value spanning lines is refused:
    it would need the heredoc form, and a newline in a variable would otherwise set another variable.
    https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-environment-variable
    """
    path = settings.environ.get("GITHUB_ENV")
    if not path:
        return
    lines = "".join(f"{name}={_step_value(value)}\n" for name, value in values.items())
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(lines)


def append_summary(settings: Settings, markdown: str) -> None:
    """Append Markdown to the job summary (GITHUB_STEP_SUMMARY); no-op outside Actions."""
    if settings.github_step_summary is None:
        return
    with settings.github_step_summary.open("a", encoding="utf-8") as fh:
        fh.write(markdown)


def mask(settings: Settings, secret: str | None) -> None:
    """Ask the runner to hide `secret` in every later log line (`::add-mask::`); no-op outside Actions."""
    if settings.in_github_actions and secret:
        print(f"::add-mask::{secret}", flush=True)


def event_payload(settings: Settings) -> dict[str, Any]:
    """The triggering event (GITHUB_EVENT_PATH) as a dict; empty outside Actions or when unreadable."""
    if settings.github_event_path is None:
        return {}
    try:
        event = json.loads(settings.github_event_path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return event if isinstance(event, dict) else {}
