"""The checks a destroy request must pass before anything is planned or any AWS credential exists: the typed
confirmation equals the env, and a protected env (prod) needs the explicit allow flag."""

from __future__ import annotations

from pathlib import Path

from hubdeploy.envs import check_env, pin_path
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


def after_destroy_note(repo_root: Path, env: str, *, pinned: bool) -> str:
    """What a destroy leaves behind: the env's pin, which makes the next merge to main recreate the env."""
    path = pin_path(repo_root, env).relative_to(repo_root)
    if not pinned:
        return f"{env} is destroyed and not pinned: merges to main leave it alone."
    return (
        f"{env} is destroyed, but its pin {path} is still committed: the next merge to main plans {env} again and "
        f"recreates it (behind the same approvals). To keep {env} gone, open a PR with `hubdeploy pin --env {env} "
        f"--remove`; to bring it back, merge anything (or re-run the last deploy)."
    )
