"""Apply the one-time account root `terraform/account` against an endpoint (the emulator), before any
env root is applied there.

Real accounts get `terraform/account` applied once by an administrator (README: one-time AWS setup).
An emulator starts as a new, empty account, and its strict rules refuse what AWS refuses, e.g. a stage
with logging while the account has no API Gateway CloudWatch Logs role. So everything that applies an env
root against an emulator (the local stack, the tests) first calls::

    accountroot.ensure(repo_root, environ=settings.environ, endpoint_url=url, workdir=tmp / "account",
                       state_bucket=boot.state.name, region="us-east-1")

like `hubdeploy.infra.envroot`: a work copy of `terraform/account` with the generated emulator override,
its own TF_DATA_DIR, the S3 backend in the state bucket under `STATE_KEY`, the shared CLI config. A second
call plans "No changes" and applies nothing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hubdeploy.errors import TerraformError, UsageError
from hubdeploy.infra.emulator.override import EMULATED_ACCOUNT_ID, OVERRIDE_FILE, WORKDIR_MARKER, write_override
from hubdeploy.infra.envroot import COPY_IGNORE
from hubdeploy.infra.tfcli import error_diagnostics, run_terraform, terraform_env

log = logging.getLogger(__name__)

ACCOUNT_DIR = Path("terraform") / "account"  # relative to a checkout
STATE_KEY = "account/terraform.tfstate"  # the same key as terraform/account/backend.tf
DATA_DIR = Path(".terraform") / "account"  # TF_DATA_DIR, relative to the root's work copy
PLAN_FILE = "account.tfplan"


@dataclass(frozen=True)
class AccountRoot:
    """The account root's work copy, ready for terraform."""

    path: Path
    data_dir: Path
    tf_env: dict[str, str] = field(repr=False)


def prepare(repo_root: Path, *, environ: Mapping[str, str], endpoint_url: str, workdir: Path) -> AccountRoot:
    """Copy `terraform/account` of `repo_root` into `workdir` (kept across calls: its data dir) and point it
    at `endpoint_url` with the emulator override; the checkout is never touched."""
    source = repo_root / ACCOUNT_DIR
    if not source.is_dir():
        raise UsageError(f"no {source}", hint="run hubdeploy from a hubdeploy checkout")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / WORKDIR_MARKER).write_text(f"copy of {source}\n")
    path = workdir / ACCOUNT_DIR
    shutil.copytree(source, path, ignore=COPY_IGNORE, dirs_exist_ok=True)
    for stale in path.glob("*.tf"):
        if stale.name != OVERRIDE_FILE and not (source / stale.name).exists():
            stale.unlink()
    write_override(path, endpoint_url)
    tf_env = terraform_env(repo_root, environ)
    tf_env.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint_url}
    )
    tf_env.pop("AWS_PROFILE", None)
    tf_env.pop("AWS_SESSION_TOKEN", None)
    data_dir = path / DATA_DIR
    tf_env["TF_DATA_DIR"] = str(data_dir)  # set last: never an inherited one
    return AccountRoot(path=path, data_dir=data_dir, tf_env=tf_env)


def apply(root: AccountRoot, *, state_bucket: str, region: str, account_id: str = EMULATED_ACCOUNT_ID) -> bool:
    """init (state in `state_bucket` under STATE_KEY), plan, and apply when the plan has changes.

    Returns:
        True if something was applied, False when the account was already set up ("No changes").

    Raises:
        TerraformError: init, plan or apply failed (one line per error diagnostic for the plan).
    """
    init = ["init", "-input=false", "-no-color", "-reconfigure"]
    init += [f"-backend-config=bucket={state_bucket}", f"-backend-config=region={region}"]
    init.append(f"-backend-config=key={STATE_KEY}")
    run_terraform(init, cwd=root.path, env=root.tf_env)
    planfile = root.data_dir / PLAN_FILE
    planfile.unlink(missing_ok=True)
    plan = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", f"-out={planfile}"]
    plan += [f"-var=aws_account_id={account_id}", f"-var=aws_region={region}"]
    proc = run_terraform(plan, cwd=root.path, env=root.tf_env, check=False)
    if proc.returncode not in (0, 2):
        errors = error_diagnostics(proc.stdout) or (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise TerraformError(
            "terraform plan failed for terraform/account: " + " | ".join(errors),
            hint="fix terraform/account (see the error above), then run again",
        )
    if proc.returncode == 0:
        log.info("terraform/account: no changes")
        return False
    run_terraform(["apply", "-input=false", "-no-color", str(planfile)], cwd=root.path, env=root.tf_env)
    log.info("terraform/account applied")
    return True


def ensure(
    repo_root: Path,
    *,
    environ: Mapping[str, str],
    endpoint_url: str,
    workdir: Path,
    state_bucket: str,
    region: str,
) -> bool:
    """`prepare` + `apply`: the emulated account's one-time settings, idempotently. True if applied now."""
    root = prepare(repo_root, environ=environ, endpoint_url=endpoint_url, workdir=workdir)
    return apply(root, state_bucket=state_bucket, region=region)
