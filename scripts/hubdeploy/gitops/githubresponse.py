"""Reading GitHub's error responses: the message, what to do about a 422, numeric rate-limit headers."""

from __future__ import annotations

import json


def response_message(raw: bytes) -> str:
    """GitHub's error message of a response body, with its `errors` details, in one line."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw[:200].decode(errors="replace").strip() or "no message"
    if not isinstance(data, dict):
        return str(data)[:200]
    text = str(data.get("message", "no message"))
    details = [e.get("message") or e.get("code") for e in data.get("errors") or [] if isinstance(e, dict)]
    return text + (f" ({'; '.join(str(d) for d in details if d)})" if details else "")


def hint_422(message: str) -> str:
    """What to do about a 422 (validation failed), from its message."""
    low = message.lower()
    if "too long" in low or "maximum" in low:
        return "the body is over GitHub's size limit; this is a bug in the comment cutting: report it"
    if "label" in low:
        return "create the label or give the job `issues: write`"
    return "the request was malformed; re-run with --debug and report it"


def header_number(value: str, *, default: float) -> float:
    """A numeric header (Retry-After, X-RateLimit-Reset), or `default` when it is not a number."""
    try:
        return float(value)
    except ValueError:
        return default
