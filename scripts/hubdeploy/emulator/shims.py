"""Small patches that close moto's gaps against the Terraform AWS provider.

Each shim says which gap it closes; `apply_all()` is called in the emulator process before the
server starts. Tests in tests/emulator/ fail without each one.
"""

from __future__ import annotations

from collections.abc import Callable

SHIMS: list[Callable[[], None]] = []


def shim(func: Callable[[], None]) -> Callable[[], None]:
    """Register a shim to run in `apply_all`."""
    SHIMS.append(func)
    return func


def apply_all() -> None:
    """Apply every registered shim (idempotent: each guards against double patching)."""
    for func in SHIMS:
        func()
