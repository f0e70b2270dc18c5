"""One JSON object per log line, so CloudWatch Logs Insights can filter by request id, status and latency.

Only fields passed through `extra=` are added to the message; request text is never passed there.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as {"time", "level", "logger", "message", "request_id", ...extra fields}."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": self.request_id,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info and record.exc_info[0] is not None:
            # Type and frames, not the exception's message: a message can quote the request text.
            entry["exception"] = record.exc_info[0].__name__
            entry["frames"] = [f"{f.filename}:{f.lineno}:{f.name}" for f in traceback.extract_tb(record.exc_info[2])]
        return json.dumps(entry, default=str, separators=(",", ":"))


def setup(name: str, level: str) -> tuple[logging.Logger, JsonFormatter]:
    """The logger `name` writing JSON lines to stdout (not propagated to the runtime's plain-text handler)."""
    logger = logging.getLogger(name)
    formatter = JsonFormatter()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    logger.handlers[:] = [handler]
    logger.propagate = False
    resolved = logging.getLevelName(level.strip().upper()) if level else logging.INFO
    logger.setLevel(resolved if isinstance(resolved, int) else logging.INFO)
    return logger, formatter
