"""The Terraform state lock of an env: reading terraform's lock messages, the lock flags, and the one-line
errors that name a held lock and the command that clears it.

The lock is the S3 backend's lock file: `<state key>.tflock` next to the state, created with a conditional
write and deleted when the run ends (`use_lockfile = true` in terraform/root/backend.tf;
https://developer.hashicorp.com/terraform/language/backend/s3#state-locking). A plan with `lock=False`
(speculative: PR, drift, preview) neither takes nor waits for it (`-lock=false`); a locked plan, apply and
destroy wait up to the env's lock timeout (`-lock-timeout`, Settings.lock_timeout from
HUBDEPLOY_LOCK_TIMEOUT). A run killed before terraform could delete the file leaves it behind: the next
locked run fails naming who held it, since when, its ID and `hubdeploy unlock --env E --lock-id ID`
(`terraform force-unlock`; https://developer.hashicorp.com/terraform/language/state/locking#force-unlock).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hubdeploy.errors import StateLockError, TerraformError, TerraformInterrupted, UsageError
from hubdeploy.infra import tfcli
from hubdeploy.infra.tfcli import ACQUIRE_FAILED, lock_info, terraform_text
from hubdeploy.settings import DEFAULT_LOCK_TIMEOUT as DEFAULT_LOCK_TIMEOUT  # EnvRoot's default: Settings' one
from hubdeploy.settings import LOCK_TIMEOUT_VAR

if TYPE_CHECKING:
    from hubdeploy.infra.envroot import EnvRoot

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # force-unlock colours its output whatever TF_IN_AUTOMATION says
# A Go duration as terraform's -lock-timeout parses it: "30s", "10m", "1h30m", "500ms".
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def check_lock_timeout(value: str) -> None:
    """Refuse a lock timeout terraform would not parse, before terraform runs with it."""
    if not _DURATION.match(value):
        raise UsageError(
            f"{LOCK_TIMEOUT_VAR}={value!r} is not a duration",
            hint="set it to a Terraform duration such as 30s, 10m or 1h (default 10m)",
        )


def lock_args(lock_timeout: str | None) -> list[str]:
    """`-lock-timeout=<lock_timeout>`, or `-lock=false` when None (a speculative plan: no lock at all)."""
    if lock_timeout is None:
        return ["-lock=false"]
    check_lock_timeout(lock_timeout)
    return [f"-lock-timeout={lock_timeout}"]


def unlock_command(env: str, lock_id: str) -> str:
    """The command that removes a stale state lock of `env`."""
    return f"hubdeploy unlock --env {env} --lock-id {lock_id}"


def unlock_hint(env: str, lock_id: str) -> str:
    return f"if no other run is in progress, clear it with: {unlock_command(env, lock_id)}"


def locked_error(env: str, proc: subprocess.CompletedProcess[str], *, waited: str) -> StateLockError | None:
    """The StateLockError when terraform failed because another run holds `env`'s state lock, else None."""
    output = f"{proc.stdout or ''}\n{proc.stderr or ''}"
    if ACQUIRE_FAILED not in terraform_text(output):
        return None
    held = lock_info(output)
    if held is None:  # terraform prints the lock info; stay clear if a version does not
        return StateLockError(
            f"the {env} state is locked ({ACQUIRE_FAILED}; terraform named no lock ID); waited {waited}",
            hint="wait for the other run to finish, then run again",
            lock_id="",
        )
    return StateLockError(
        f"the {env} state is locked: {held.describe()}; waited {waited}",
        hint=(
            "wait for that run to finish; only if no run is in progress (a cancelled or killed run left it), "
            f"clear it with: {unlock_command(env, held.id)}"
        ),
        lock_id=held.id,
    )


def unlock_failure(env: str, lock_id: str, proc: subprocess.CompletedProcess[str]) -> TerraformError:
    """The one line of a failed `terraform force-unlock`: terraform's reason, without its colours and lock dump."""
    text = _ANSI.sub("", terraform_text(f"{proc.stderr}\n{proc.stdout}")).split("Lock Info:")[0]
    reason = " ".join(text.replace("│", " ").split())
    return TerraformError(
        f"could not remove the {env} state lock {lock_id}: {reason}",
        hint=f"a locked `hubdeploy plan --env {env}` names the lock that holds the state now, if any",
    )


def run(root: EnvRoot, args: Sequence[str], *, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`terraform <args>` in the env root (tfcli.run_terraform), with the lock's errors named: a held lock
    is a StateLockError (who, since when, its ID, the unlock command), and an interrupt after which
    terraform could not release the lock names the env's unlock command."""
    try:
        proc = tfcli.run_terraform(args, cwd=root.path, env=root.tf_env, check=False, **kwargs)
    except TerraformInterrupted as exc:
        if exc.lock_id is None:
            raise
        hint = unlock_hint(root.env, exc.lock_id)
        raise TerraformInterrupted(
            exc.message, hint=hint, signal_number=exc.signal_number, lock_id=exc.lock_id
        ) from None
    ok_codes = kwargs.get("ok_codes", (0,))
    if proc.returncode not in ok_codes:
        waited = next((a.split("=", 1)[1] for a in args if a.startswith("-lock-timeout=")), "0s")
        if locked := locked_error(root.env, proc, waited=waited):
            raise locked
        if check:
            raise tfcli.failure(args, root.path, proc)
    return proc


def force_unlock(root: EnvRoot, lock_id: str) -> None:
    """Remove the env's state lock `lock_id` (`terraform force-unlock -force`): only for a lock that no
    running terraform holds (a cancelled or killed run's).

    Raises:
        TerraformError: there is no such lock (terraform's reason, e.g. another ID holds it now).
    """
    proc = run(root, ["force-unlock", "-force", lock_id], check=False)
    if proc.returncode != 0:
        raise unlock_failure(root.env, lock_id, proc)
