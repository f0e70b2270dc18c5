"""Reversible monkeypatches of moto: the one mechanism behind the gap shims and the strict rules.

`patch` remembers each original once, so `revert_all()` restores plain moto; tests use it to show a
gap (or a leniency) on plain moto and its closure with the emulator's patches.
"""

from __future__ import annotations

from typing import Any

# (owner, attribute, original value or _MISSING): what revert_all() restores, in reverse order.
_PATCHES: list[tuple[Any, str, Any]] = []
_MISSING = object()


def _origin(value: Any) -> str:
    """Which code a patch comes from: its function's module and qualified name."""
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def patch(owner: Any, name: str, value: Any) -> None:
    """Set `owner.name = value`, remembering the original (once) for revert_all().

    Applying the same patch again is a no-op (shims and rules are idempotent); a *different* patch of an
    attribute that is already patched is refused, since it would silently replace the first one: chain
    the second behaviour inside the first instead."""
    for patched_owner, patched_name, _ in _PATCHES:
        if patched_owner is owner and patched_name == name:
            current = owner.__dict__.get(name)
            if _origin(current) != _origin(value):
                raise RuntimeError(
                    f"{getattr(owner, '__name__', owner)}.{name} is already patched by {_origin(current)}; "
                    f"{_origin(value)} would replace it: chain the two in one patch"
                )
            return
    _PATCHES.append((owner, name, owner.__dict__.get(name, _MISSING)))
    setattr(owner, name, value)


def revert_all() -> None:
    """Restore plain moto."""
    while _PATCHES:
        owner, name, value = _PATCHES.pop()
        if value is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, value)
