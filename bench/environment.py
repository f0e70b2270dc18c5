"""Set process environment variables for a block, then restore them: `model_fn` reads its settings
(HUBDEPLOY_PRECISION, HUBDEPLOY_NUM_THREADS, …) from the environment, and a benchmark must leave none behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Within the block each named variable has its value (None: unset); afterwards each has its earlier one."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _put(name, value)
        yield
    finally:
        for name, value in before.items():
            _put(name, value)


def _put(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
