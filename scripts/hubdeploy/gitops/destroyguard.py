"""The checks a destroy request must pass before anything is planned or any AWS credential exists: the typed
confirmation equals the env, and a protected env (prod) needs the explicit allow flag."""

from __future__ import annotations

from hubdeploy.envs import check_env
from hubdeploy.errors import UsageError

PROTECTED = frozenset({"prod"})


def check_destroy(env: str, confirm: str, *, allow_prod: bool) -> None:
    """Raise unless destroying `env` was confirmed exactly (and, for prod, explicitly allowed)."""
    check_env(env)
    if confirm != env:
        raise UsageError(
            f"confirmation {confirm!r} does not match the environment {env!r}; nothing was destroyed",
            hint=f"type the environment name exactly: {env}",
        )
    if env in PROTECTED and not allow_prod:
        raise UsageError(
            f"{env} is protected; nothing was destroyed", hint=f"set the allow-prod input to true to destroy {env}"
        )
