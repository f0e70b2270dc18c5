"""Terraform runs for one environment: the one root module `terraform/root` with that env's values.

`terraform/envs/<env>/` holds only values; the runner supplies the environment's identity:

- `init` completes the partial S3 backend with `-backend-config=bucket/region/key`, the key being
  `hubdeploy.infra.naming.state_key(env)` (the one source of truth);
- `plan` passes `-var-file` for the env's `terraform.tfvars`, its pin `model.auto.tfvars.json`, its
  `artifacts.auto.tfvars.json` (only when `hubdeploy publish` wrote it, so a missing publish fails at
  plan naming the variable), then `-var=environment=<env>`, then the emulator's tfvars and any
  test-only `variables` (later ones win);
- `plan` also passes `observed_instance_count`, the endpoint variant's current DesiredInstanceCount
  (DescribeEndpoint; omitted when there is no endpoint yet), so an autoscaled env's new configuration
  starts where autoscaling is instead of scaling back in (terraform/modules/sagemaker-endpoint/capacity.tf);
- every call runs with its own TF_DATA_DIR, `<root>/.terraform/envs/<env>/` (git-ignored), so
  dev, staging and prod planned from one checkout or one work copy never share backend settings.

Typical use (CI, the local stack, tests)::

    root = envroot.prepare(repo_root, "dev", environ=settings.environ)   # real AWS: terraform/root in place
    root = envroot.prepare(repo_root, "dev", environ=settings.environ,    # emulator: a work copy of terraform/
                           endpoint_url=emu.endpoint_url, workdir=tmp / "tf")
    envroot.init(root, state_bucket="hubdeploy-tfstate-...", region="us-east-1")
    plan = envroot.plan(root)                   # Plan(path, has_changes)
    doc = envroot.show_json(root, plan.path)    # `terraform show -json` of the plan
    envroot.apply(root, plan.path)
    outputs = envroot.output_json(root)         # {"api_url": ..., "endpoint_name": ..., ...}
    envroot.destroy(root)

Every call goes through `hubdeploy.infra.tfcli.run_terraform` with the generated CLI config (offline mirror if any).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.envs import check_env
from hubdeploy.errors import TerraformError, UsageError
from hubdeploy.infra import statelock
from hubdeploy.infra.emulator.override import (
    OVERRIDE_FILE,
    TFVARS_FILE,
    WORKDIR_MARKER,
    write_emulator_tfvars,
    write_override,
)
from hubdeploy.infra.envvalues import artifacts_hint, env_var_files
from hubdeploy.infra.naming import stack_name, state_key
from hubdeploy.infra.tfcli import error_diagnostics, run_terraform, terraform_env

if TYPE_CHECKING:
    from hubdeploy.settings import Settings

log = logging.getLogger(__name__)

ROOT_DIR = Path("terraform") / "root"  # the one root module, relative to a checkout
ENVS_DIR = Path("terraform") / "envs"  # one folder of values per environment
# TF_DATA_DIR of an env, relative to the root it runs in (under .terraform/: git-ignored, never copied).
DATA_DIR = Path(".terraform") / "envs"
# The binary plan's file name, in an env's data dir and in a plan folder (hubdeploy.gitops.planfolder).
PLAN_FILE = "tfplan"
# Files a work copy must not inherit from the checkout (state, caches, someone's overrides).
COPY_IGNORE = shutil.ignore_patterns(
    ".terraform", "*.tfstate*", PLAN_FILE, "*.tfplan", "*_override.tf", "*_override.tf.json"
)
# Where emulated runs keep their copy of terraform/ (never the checkout's own root).
EMULATED_WORKDIR = Path(".cache") / "hubdeploy-tf"
EXTRA_VARS_FILE = "hubdeploy-extra.tfvars.json"
OBSERVED_COUNT_VARIABLE = "observed_instance_count"
_REGION_LINE = re.compile(r'^\s*aws_region\s*=\s*"([a-z0-9-]+)"', re.MULTILINE)


@dataclass(frozen=True)
class EnvRoot:
    """One environment ready for terraform: the root to run, the env's values, the process environment."""

    env: str
    path: Path  # terraform/root (or its work copy): the .tf files, cwd of every terraform call
    env_dir: Path  # terraform/envs/<env> (or its work copy): the env's values
    data_dir: Path  # this env's TF_DATA_DIR: <path>/.terraform/envs/<env>
    repo_root: Path  # the checkout (or scratch copy) the root came from
    tf_env: dict[str, str] = field(repr=False)
    endpoint_url: str | None = None  # the emulator's URL, None for real AWS
    override_var_files: tuple[Path, ...] = ()  # passed after the env's values (the emulator's tfvars)
    lock_timeout: str = statelock.DEFAULT_LOCK_TIMEOUT  # how long locked runs wait for the state lock (-lock-timeout)

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None


@dataclass(frozen=True)
class Plan:
    """A saved plan: its file and whether it changes anything."""

    path: Path
    has_changes: bool


def prepare(
    repo_root: Path,
    env: str,
    *,
    environ: Mapping[str, str],
    endpoint_url: str | None = None,
    workdir: Path | None = None,
    tfvars: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> EnvRoot:
    """Get `terraform/root` of `repo_root` ready to run with the values of `terraform/envs/<env>`.

    Args:
        repo_root: checkout (or scratch copy) holding `terraform/`.
        env: dev, staging or prod.
        environ: the environment terraform inherits (Settings.environ).
        endpoint_url: the emulator's URL. When given, `terraform/` is copied into `workdir` (again
            on every call, keeping each env's data dir), and the copy gets the emulator override
            and tfvars; the checkout is never touched.
        workdir: where the copy goes (required with `endpoint_url`).
        tfvars: extra root variables for the emulated copy (test-only feature toggles).
        extra_env: extra process environment for terraform (e.g. TF_VAR_aws_account_id).

    Returns:
        The EnvRoot to pass to init/plan/apply/...
    """
    check_env(env)
    source = repo_root / "terraform"
    for needed in (repo_root / ROOT_DIR, repo_root / ENVS_DIR / env):
        if not needed.is_dir():
            raise UsageError(f"no {needed}", hint="run hubdeploy from a hubdeploy checkout")
    process_env = terraform_env(repo_root, environ, extra_env)
    if endpoint_url is None:
        return _env_root(env, repo_root, repo_root, process_env)
    if workdir is None:
        raise UsageError("an emulated run needs a work directory", hint="pass workdir=<empty or previous work dir>")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / WORKDIR_MARKER).write_text(f"copy of {source}\n")
    _sync_copy(source, workdir / "terraform")
    write_override(workdir / ROOT_DIR, endpoint_url)
    emulator_vars = write_emulator_tfvars(workdir / ENVS_DIR / env, tfvars)
    # the emulator's fake credentials, also for anything the provider resolves from the environment
    process_env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": endpoint_url,
        }
    )
    process_env.pop("AWS_PROFILE", None)
    process_env.pop("AWS_SESSION_TOKEN", None)
    return _env_root(
        env, workdir, repo_root, process_env, endpoint_url=endpoint_url, override_var_files=(emulator_vars,)
    )


def _env_root(env: str, tree: Path, repo_root: Path, process_env: dict[str, str], **kwargs: Any) -> EnvRoot:
    """The EnvRoot of `env` in `tree` (a checkout or a work dir holding terraform/)."""
    path = tree / ROOT_DIR
    data_dir = path / DATA_DIR / env
    # set last: an inherited TF_DATA_DIR would make every env share one backend configuration
    process_env["TF_DATA_DIR"] = str(data_dir)
    return EnvRoot(
        env=env,
        path=path,
        env_dir=tree / ENVS_DIR / env,
        data_dir=data_dir,
        repo_root=repo_root,
        tf_env=process_env,
        **kwargs,
    )


def _sync_copy(source: Path, copy: Path) -> None:
    """Make `copy` a copy of `source`: copy over it, then drop files `source` no longer has (a stale
    artifacts file would otherwise hide a missing publish). Kept: data dirs (.terraform/) and the
    emulator files, which every env's `prepare` rewrites (one work copy may serve several envs)."""
    shutil.copytree(source, copy, ignore=COPY_IGNORE, dirs_exist_ok=True)
    for folder, dirs, files in os.walk(copy):
        dirs[:] = [d for d in dirs if d != ".terraform"]
        here = Path(folder)
        for name in files:
            if name not in (OVERRIDE_FILE, TFVARS_FILE) and not (source / (here / name).relative_to(copy)).exists():
                (here / name).unlink()


def init(root: EnvRoot, *, state_bucket: str, region: str, upgrade: bool = False) -> None:
    """`terraform init` with the partial S3 backend completed by `state_bucket`, `region` and the env's key."""
    args = [
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        f"-backend-config=bucket={state_bucket}",
        f"-backend-config=region={region}",
        f"-backend-config=key={state_key(root.env)}",
    ]
    if upgrade:
        args.append("-upgrade")
    run_terraform(args, cwd=root.path, env=root.tf_env)


def initialised(root: EnvRoot, *, state_bucket: str, region: str) -> bool:
    """Whether `root`'s data dir is initialised as `init` would do it: the backend recorded in `<TF_DATA_DIR>/
    terraform.tfstate` has this bucket, region, key and (emulated) URL: a restarted emulator has another port."""
    try:
        backend = json.loads((root.data_dir / "terraform.tfstate").read_text())["backend"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    config = backend.get("config") or {}
    wanted = {"bucket": state_bucket, "region": region, "key": state_key(root.env)}
    same_endpoint = root.endpoint_url is None or (config.get("endpoints") or {}).get("s3") == root.endpoint_url
    return backend.get("type") == "s3" and same_endpoint and all(config.get(k) == v for k, v in wanted.items())


def _var_args(root: EnvRoot, variables: Mapping[str, Any] | None) -> list[str]:
    """-var-file/-var flags of a plan, later ones winning: env values, identity, emulator, `variables`."""
    args = [f"-var-file={path}" for path in env_var_files(root.env_dir, root.env)]
    args.append(f"-var=environment={root.env}")
    args += [f"-var-file={path}" for path in root.override_var_files]
    if variables:
        root.data_dir.mkdir(parents=True, exist_ok=True)
        path = root.data_dir / EXTRA_VARS_FILE
        path.write_text(json.dumps(dict(variables), indent=2) + "\n")
        args.append(f"-var-file={path}")
    return args


def plan(
    root: EnvRoot,
    *,
    out: Path | None = None,
    destroy: bool = False,
    variables: Mapping[str, Any] | None = None,
    targets: Sequence[str] = (),
    lock: bool = True,
    lock_timeout: str | None = None,
    refresh_only: bool = False,
) -> Plan:
    """`terraform plan -out`; returns the plan file and whether it has changes.

    Args:
        out: plan file (default `tfplan` in the env's data dir).
        destroy: plan a destroy.
        variables: extra root variables for this plan (baked into the plan file; they win over the
            env's files).
        targets: `-target` addresses (for debugging only).
        lock, lock_timeout, refresh_only: `-lock=false` unless `lock` (a speculative plan, for review only),
            else wait `lock_timeout` (default: the root's) for the lock (statelock); `-refresh-only` (drift).

    Raises:
        UsageError: an env file sets `environment` (`hubdeploy.infra.envvalues`), or a bad lock timeout.
        TerraformError: terraform refused the plan (one line per error diagnostic).
    """
    planfile = out or root.data_dir / PLAN_FILE
    planfile.unlink(missing_ok=True)  # a failed plan must not leave an older plan file to apply
    if not destroy:
        observed = observed_instance_count(root)
        if observed is not None:  # later (test) variables still win
            variables = {OBSERVED_COUNT_VARIABLE: observed, **(variables or {})}
    # -json: machine-readable diagnostics, so a failure becomes one line naming the variable
    args = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", f"-out={planfile}"]
    args += _var_args(root, variables)
    args += [f"-target={t}" for t in targets]
    args += statelock.lock_args((lock_timeout or root.lock_timeout) if lock else None)
    args += ["-destroy"] if destroy else []
    args += ["-refresh-only"] if refresh_only else []
    proc = statelock.run(root, args, check=False)
    if proc.returncode not in (0, 2):
        planfile.unlink(missing_ok=True)  # terraform saves errored plans too; nobody should find one
        errors = error_diagnostics(proc.stdout) or (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise TerraformError(
            f"terraform plan failed for {root.env}: " + " | ".join(errors),
            hint=artifacts_hint(root.env_dir, root.env)
            or f"fix the value named above (terraform/envs/{root.env}/*.tfvars or the pin), then plan again",
        )
    return Plan(path=planfile, has_changes=proc.returncode == 2)


def observed_instance_count(root: EnvRoot) -> int | None:
    """The DesiredInstanceCount of the env endpoint's first variant, or None when there is no endpoint
    (DescribeEndpoint with the credentials terraform runs with, in the env's region)."""
    from botocore.exceptions import ClientError

    from hubdeploy.infra import aws
    from hubdeploy.settings import Settings

    values = root.env_dir / "terraform.tfvars"
    found = _REGION_LINE.search(values.read_text()) if values.is_file() else None
    region = found.group(1) if found else root.tf_env.get("AWS_REGION") or "us-east-1"
    settings = Settings(
        repo_root=root.repo_root,
        environ=dict(root.tf_env),
        aws_region=region,
        aws_endpoint_url=root.endpoint_url or root.tf_env.get("AWS_ENDPOINT_URL") or None,
    )
    name = stack_name(root.env)
    with aws.aws_errors(f"read the instance count of endpoint {name} (sagemaker DescribeEndpoint)"):
        try:
            described = aws.client("sagemaker", settings).describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if aws.error_code(exc) == "ValidationException" and "Could not find endpoint" in str(exc):
                return None  # not created yet
            raise
    variants = described.get("ProductionVariants") or []
    count = variants[0].get("DesiredInstanceCount") if variants else None
    log.info("endpoint %s: variant's desired instance count %s", name, count)
    return int(count) if count else None


def show_json(root: EnvRoot, planfile: Path | None = None) -> dict[str, Any]:
    """`terraform show -json` of a plan file, or of the current state when `planfile` is None."""
    args = ["show", "-json", "-no-color"] + ([str(planfile)] if planfile else [])
    proc = run_terraform(args, cwd=root.path, env=root.tf_env)
    return json.loads(proc.stdout)


def apply(root: EnvRoot, planfile: Path) -> None:
    """Apply a saved plan (the reviewed one, no prompts), waiting up to the root's lock timeout for the lock."""
    statelock.run(root, ["apply", "-input=false", "-no-color", *statelock.lock_args(root.lock_timeout), str(planfile)])


def output_json(root: EnvRoot) -> dict[str, Any]:
    """The root's outputs as plain values: `{"api_url": "...", "auth": {...}, ...}`."""
    proc = run_terraform(["output", "-json", "-no-color"], cwd=root.path, env=root.tf_env)
    return {name: item["value"] for name, item in json.loads(proc.stdout).items()}


def destroy(root: EnvRoot, *, variables: Mapping[str, Any] | None = None) -> None:
    """Destroy everything the root manages (plan -destroy, then apply that plan)."""
    destroy_plan = plan(root, out=root.data_dir / "destroy.tfplan", destroy=True, variables=variables)
    apply(root, destroy_plan.path)


def state_resources(root: EnvRoot) -> list[str]:
    """Addresses of every resource in the state (`terraform state list`)."""
    proc = run_terraform(["state", "list", "-no-color"], cwd=root.path, env=root.tf_env, ok_codes=(0, 1))
    if proc.returncode == 1 and "No state file" not in (proc.stderr + proc.stdout):
        raise TerraformError(f"terraform state list failed in {root.path}: {proc.stderr.strip()}")
    return [line for line in proc.stdout.splitlines() if line.strip()]


def resource_changes(plan_doc: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """`{address: actions}` of a `show_json` plan document, without no-op/read entries.

    Actions are Terraform's: ("create",), ("update",), ("delete",), ("create", "delete") for
    create-before-destroy replacement, ("delete", "create") for destroy-then-create.
    """
    changes: dict[str, tuple[str, ...]] = {}
    for change in plan_doc.get("resource_changes", []):
        actions = tuple(change["change"]["actions"])
        if actions in (("no-op",), ("read",)):
            continue
        address = change["address"] + (f" (deposed {change['deposed']})" if change.get("deposed") else "")
        changes[address] = actions
    return changes


def open_root(
    settings: Settings, env: str, *, workdir: Path | None = None, initialise: bool = True, reuse_init: bool = False
) -> EnvRoot:
    """The env root, initialised against the state bucket (the emulator's when AWS_ENDPOINT_URL is set). `reuse_init`:
    no init (it costs ~1.8 CPU-s) when the data dir already is (`initialised`), as after the job's plan step."""
    check_env(env)
    emulated = settings.aws_endpoint_url
    if emulated and workdir is None:
        workdir = settings.repo_root / EMULATED_WORKDIR
    root = prepare(
        settings.repo_root, env, environ=settings.environ, endpoint_url=emulated, workdir=workdir if emulated else None
    )
    root = replace(root, lock_timeout=settings.lock_timeout)  # one source: Settings.lock_timeout
    if initialise:
        from hubdeploy.infra import aws, naming

        bucket = naming.state_bucket_name(settings, aws.account_id(settings))
        if not (reuse_init and initialised(root, state_bucket=bucket, region=settings.aws_region)):
            init(root, state_bucket=bucket, region=settings.aws_region)
    return root


def read_outputs(settings: Settings, env: str, outputs_json: Path | None) -> dict[str, Any]:
    """`terraform output -json` values of `env` (unwrapped), or those saved in `outputs_json`."""
    if outputs_json is None:
        return output_json(open_root(settings, env, reuse_init=True))
    try:
        raw = json.loads(outputs_json.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"cannot read outputs from {outputs_json} ({exc})", hint="save `terraform output -json`"
        ) from None
    if not isinstance(raw, dict):
        raise UsageError(f"{outputs_json} is not a JSON object", hint="save `terraform output -json`")
    # `terraform output -json` wraps each value: {"name": {"value": ..., "sensitive": ..., "type": ...}}
    return {k: v["value"] if isinstance(v, dict) and "value" in v and "type" in v else v for k, v in raw.items()}
