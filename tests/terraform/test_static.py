"""Static checks of the Terraform tree: fmt, validate, checkov, generated READMEs, and the promise
that environments differ only in values (one root module; env folders hold values only). No emulator needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hubdeploy.checkout import copy_checkout
from hubdeploy.dev import tfdocs
from hubdeploy.envs import ARTIFACT_VARIABLES, ARTIFACTS_FILE, ENVIRONMENTS, PIN_FILE
from hubdeploy.errors import UsageError
from hubdeploy.infra import envroot, envvalues
from hubdeploy.infra.emulator.override import (
    OVERRIDE_FILE,
    SERVICES,
    TFVARS_FILE,
    render_override,
    write_emulator_tfvars,
    write_override,
)
from hubdeploy.infra.tfcli import run_terraform, terraform_env
from tests.support.tools import CHECKOV, CHECKOV_INSTALL, require_tool

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ENVS = ("dev", "staging", "prod")
MODULES = sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
# what `terraform validate` checks: every module, and the one root every environment runs
DIRS = [f"modules/{m}" for m in MODULES] + ["root"]
ROOT_FILES = {"versions.tf", "backend.tf", "providers.tf", "variables.tf", "main.tf", "outputs.tf"}
# everything an env folder may hold: its values, its pin, and the git-ignored output of `hubdeploy publish`
ENV_FILES = {"terraform.tfvars", PIN_FILE}
GENERATED_ENV_FILES = {ARTIFACTS_FILE}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of terraform/ (init writes .terraform/ and must not touch the checkout)."""
    copy = tmp_path_factory.mktemp("tf-static") / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf"))
    return copy


@pytest.mark.parametrize("folder", [*DIRS, "envs"])
def test_fmt_is_clean(folder: str):
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", str(TERRAFORM / folder)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def validated(tree: Path) -> dict[str, str]:
    """`terraform validate -json` of every root and module (init + validate run side by side)."""
    env = terraform_env(REPO, os.environ)

    def validate(folder: str) -> str:
        cwd = tree / folder
        run_terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=cwd, env=env)
        return run_terraform(["validate", "-json", "-no-color"], cwd=cwd, env=env, check=False).stdout

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(DIRS, pool.map(validate, DIRS), strict=True))


@pytest.mark.parametrize("folder", DIRS)
def test_validate(validated: dict[str, str], folder: str):
    result = json.loads(validated[folder])
    assert result["valid"] is True, result["diagnostics"]
    assert result["warning_count"] == 0, f"validate warnings: {result['diagnostics']}"


def test_checkov_has_zero_failed_checks():
    checkov = require_tool(CHECKOV, install=CHECKOV_INSTALL)
    proc = subprocess.run(
        [str(checkov), "--config-file", ".checkov.yaml"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Failed checks: 0" in proc.stdout


def test_every_checkov_skip_has_a_reason():
    for path in TERRAFORM.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert len(reason.strip()) > 20, f"{path}:{number}: skip of {check} needs a reason"


READMES = {f"modules/{m}": f"modules/{m}/README.md" for m in MODULES} | {"root": "root/README.md"}


@pytest.mark.parametrize("folder", sorted(READMES))
def test_readme_tables_are_generated_from_the_code(folder: str):
    readme = TERRAFORM / READMES[folder]
    assert readme.exists(), f"{readme} is missing"
    assert readme.read_text() == tfdocs.updated_readme(readme, TERRAFORM / folder), (
        f"{readme} is out of date: run python -m hubdeploy.dev.tfdocs {tfdocs.REGENERATE}"
    )


def test_tfdocs_check_fails_when_a_variable_changes(tmp_path: Path):
    module = tmp_path / "m"
    module.mkdir()
    (module / "variables.tf").write_text(
        'variable "size" {\n  description = "How big | really"\n  type        = number\n  default     = 1\n\n'
        '  validation {\n    condition     = var.size > 0\n    error_message = "size > 0"\n  }\n}\n'
    )
    (module / "outputs.tf").write_text(
        'output "id" {\n  description = "The id."\n  value       = 1\n  sensitive   = true\n}\n'
    )
    assert tfdocs.main([str(module)]) == 0
    text = (module / "README.md").read_text()
    assert "| `size` | How big \\| really | `number` | `1` | no |" in text
    assert "| `id` | The id. | yes |" in text
    assert tfdocs.main(["--check", str(module)]) == 0
    (module / "variables.tf").write_text('variable "name" {\n  description = "New."\n  type        = string\n}\n')
    assert tfdocs.main(["--check", str(module)]) == 1


def test_environments_are_one_root_module_and_folders_of_values():
    # given the Terraform tree, then: environments, env folders and the root are as documented
    assert ENVS == ENVIRONMENTS
    envs = TERRAFORM / "envs"
    assert sorted(p.name for p in envs.iterdir() if p.is_dir()) == sorted(ENVS)
    assert {p.name for p in envs.iterdir() if p.is_file()} == {"README.md"}
    root = TERRAFORM / "root"
    assert {p.name for p in root.glob("*.tf")} == ROOT_FILES
    assert (root / ".terraform.lock.hcl").is_file() and (root / "README.md").is_file()
    # a tfvars file next to the root's code would be loaded for EVERY environment
    assert not [p.name for p in root.iterdir() if ".tfvars" in p.name]
    assert not list(TERRAFORM.glob("**/*_override.tf")), "emulator overrides must never be committed"


@pytest.mark.parametrize("env", ENVS)
def test_an_env_folder_holds_only_values(env: str):
    folder = TERRAFORM / "envs" / env
    names = {p.name for p in folder.iterdir() if p.name != ".terraform"}
    assert ENV_FILES <= names <= ENV_FILES | GENERATED_ENV_FILES, f"{folder} may hold only values: {sorted(names)}"
    assert not [p for p in folder.iterdir() if p.is_dir() and p.name != ".terraform"]
    declared = {item.name for item in tfdocs.parse(TERRAFORM / "root" / "variables.tf", "variable")}
    for name in ENV_FILES:
        assigned = envvalues.tfvars_names((folder / name).read_text())
        assert assigned, f"{folder / name} sets nothing"
        assert assigned <= declared, f"{folder / name} sets variables the root does not declare"
        assert "environment" not in assigned, "the env's name comes from its folder (the runner passes it)"


def test_the_generated_artifacts_file_is_git_ignored_and_only_what_publish_writes():
    assert f"terraform/envs/*/{ARTIFACTS_FILE}" in (REPO / ".gitignore").read_text().splitlines()
    declared = {item.name for item in tfdocs.parse(TERRAFORM / "root" / "variables.tf", "variable")}
    assert set(ARTIFACT_VARIABLES) <= declared


def test_the_backend_is_partial_and_the_runner_passes_bucket_region_and_key():
    backend = (TERRAFORM / "root" / "backend.tf").read_text()
    code = [line.split("#", 1)[0] for line in backend.splitlines()]
    assigned = {line.split("=", 1)[0].strip() for line in code if "=" in line}
    assert assigned == {"use_lockfile", "encrypt"}, "bucket, region and key come from -backend-config"
    assert "use_lockfile = true" in backend and "encrypt      = true" in backend


def test_lock_file_pins_the_provider_with_a_linux_hash():
    lock = (TERRAFORM / "root" / ".terraform.lock.hcl").read_text()
    assert 'version     = "5.100.0"' in lock
    assert '"h1:' in lock
    assert not list((TERRAFORM / "envs").glob("*/.terraform.lock.hcl")), "one lock file, in the root"


def test_tfvars_names_sees_only_top_level_assignments():
    text = (
        '# environment = "dev" (a comment)\n'
        'aws_region = "us-east-1" // trailing\n'
        'tags = {\n  environment = "nested: not a root variable"\n}\n'
        "throttle = { rate_limit = 5 }\n"
        'note = "environment = x"\n'
    )
    assert envvalues.tfvars_names(text) == {"aws_region", "tags", "throttle", "note"}
    assert envvalues.tfvars_names('{"hub_model_id": "a/b", "environment": "dev"}') == {"hub_model_id", "environment"}
    assert "environment" in envvalues.tfvars_names('  environment = "prod"\n')


def test_override_points_every_service_and_the_backend_at_the_emulator():
    text = render_override("http://127.0.0.1:5000")
    for service in SERVICES:
        assert f"{service} " in text
    backend = text.split('backend "s3" {', 1)[1].split("\n  }\n", 1)[0]
    assert "use_lockfile                = true" in backend
    assert not [line for line in backend.splitlines() if line.strip().startswith(("key ", "bucket ", "region "))], (
        "the state key comes from -backend-config (hubdeploy.infra.naming.state_key), never from the override"
    )
    assert "max_retries = 2" in text
    assert "skip_requesting_account_id = false" in text


def test_override_refuses_to_write_outside_a_work_copy(tmp_path: Path):
    with pytest.raises(UsageError, match="not a hubdeploy work copy"):
        write_override(tmp_path, "http://127.0.0.1:5000")
    with pytest.raises(UsageError, match="not a hubdeploy work copy"):
        write_emulator_tfvars(tmp_path, {"x": 1})
    assert not (tmp_path / OVERRIDE_FILE).exists() and not (tmp_path / TFVARS_FILE).exists()


def checkout_files() -> dict[Path, bytes]:
    """Every file of the checkout's root and env folders (not .terraform/), with its bytes."""
    folders = [TERRAFORM / "root", *(TERRAFORM / "envs" / env for env in ENVS)]
    return {p: p.read_bytes() for folder in folders for p in folder.iterdir() if p.is_file()}


def test_prepare_for_the_emulator_leaves_the_checkout_untouched(tmp_path: Path):
    before = checkout_files()
    dev = envroot.prepare(REPO, "dev", environ=os.environ, endpoint_url="http://127.0.0.1:5000", workdir=tmp_path)
    prod = envroot.prepare(REPO, "prod", environ=os.environ, endpoint_url="http://127.0.0.1:5000", workdir=tmp_path)
    assert dev.path == prod.path == tmp_path / "terraform" / "root"
    assert dev.env_dir == tmp_path / "terraform" / "envs" / "dev"
    assert (dev.path / OVERRIDE_FILE).exists() and dev.emulated
    assert dev.override_var_files == (dev.env_dir / TFVARS_FILE,)
    assert json.loads((dev.env_dir / TFVARS_FILE).read_text()) == {"aws_account_id": "123456789012"}
    # one work copy, two environments: each has its own data dir (backend config, providers)
    assert dev.tf_env["TF_DATA_DIR"] == str(dev.path / ".terraform" / "envs" / "dev") == str(dev.data_dir)
    assert prod.tf_env["TF_DATA_DIR"] == str(prod.path / ".terraform" / "envs" / "prod")
    assert checkout_files() == before


def test_prepare_for_real_aws_runs_the_root_in_place_with_a_data_dir_per_env():
    roots = {env: envroot.prepare(REPO, env, environ={"TF_DATA_DIR": "/somewhere/shared"}) for env in ENVS}
    for env, root in roots.items():
        assert root.path == TERRAFORM / "root" and root.env_dir == TERRAFORM / "envs" / env
        assert root.tf_env["TF_DATA_DIR"] == str(TERRAFORM / "root" / ".terraform" / "envs" / env)
        assert not root.emulated and root.override_var_files == ()
    assert "terraform/root/.terraform/envs/" in (REPO / ".gitignore").read_text()


FAKE_TERRAFORM = """#!/bin/sh
printf '%s\\n' "$@" > "$ARGS_FILE"
printf '%s\\n' "$TF_DATA_DIR" >> "$ARGS_FILE"
"""


@pytest.fixture
def scratch(tmp_path: Path, aws_credentials: None) -> Iterator[tuple[Path, dict[str, str]]]:
    """A scratch checkout, and a terraform stand-in that records its arguments (and TF_DATA_DIR). AWS is moto
    in-process: a plan reads the endpoint's instance count first, and there is no endpoint yet."""
    from moto import mock_aws

    repo = copy_checkout(REPO, tmp_path / "repo")
    fake = tmp_path / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(0o755)
    with mock_aws():
        yield repo, {"TERRAFORM_BIN": str(fake), "ARGS_FILE": str(tmp_path / "args")}


def recorded_args(extra_env: dict[str, str]) -> list[str]:
    return Path(extra_env["ARGS_FILE"]).read_text().splitlines()


def test_the_runner_passes_the_env_identity_and_var_files_in_order(scratch: tuple[Path, dict[str, str]]):
    # given prod with published artifacts
    repo, fake = scratch
    env_dir = repo / "terraform" / "envs" / "prod"
    (env_dir / ARTIFACTS_FILE).write_text("{}\n")
    root = envroot.prepare(repo, "prod", environ=os.environ, extra_env=fake)
    # when it is initialised and planned with a test-only variable
    envroot.init(root, state_bucket="state-bucket", region="eu-west-1")
    init_args = recorded_args(fake)
    envroot.plan(root, variables={"instance_count": 3})
    args = recorded_args(fake)
    # then the state key and the name come from the runner, and later var files win
    assert init_args[-1] == str(repo / "terraform" / "root" / ".terraform" / "envs" / "prod")
    assert "-backend-config=key=envs/prod/terraform.tfstate" in init_args and "-reconfigure" in init_args
    var_args = [a for a in args if a.startswith(("-var=", "-var-file="))]
    assert var_args == [
        f"-var-file={env_dir / 'terraform.tfvars'}",
        f"-var-file={env_dir / PIN_FILE}",
        f"-var-file={env_dir / ARTIFACTS_FILE}",
        "-var=environment=prod",
        f"-var-file={root.data_dir / envroot.EXTRA_VARS_FILE}",
    ]
    assert f"-out={root.data_dir / envroot.PLAN_FILE}" in args, "each env plans into its own data dir"


def test_a_missing_publish_leaves_the_artifacts_out(scratch: tuple[Path, dict[str, str]]):
    repo, fake = scratch
    root = envroot.prepare(repo, "staging", environ=os.environ, extra_env=fake)
    envroot.plan(root)
    assert not [a for a in recorded_args(fake) if ARTIFACTS_FILE in a]


@pytest.mark.parametrize("name", ["terraform.tfvars", PIN_FILE])
def test_an_env_file_that_sets_environment_is_refused_before_terraform_runs(
    scratch: tuple[Path, dict[str, str]], name: str
):
    # given prod's values naming another environment
    repo, fake = scratch
    path = repo / "terraform" / "envs" / "prod" / name
    if name.endswith(".json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "environment": "dev"}))
    else:
        path.write_text(path.read_text() + 'environment = "dev"\n')
    root = envroot.prepare(repo, "prod", environ=os.environ, extra_env=fake)
    # when it is planned, then hubdeploy refuses in one line naming the file and the fix
    with pytest.raises(UsageError) as refused:
        envroot.plan(root)
    line = refused.value.one_line()
    assert f"terraform/envs/prod/{name} sets environment" in line
    assert f"remove the environment line from terraform/envs/prod/{name}" in line
    assert "\n" not in line
    assert not Path(fake["ARGS_FILE"]).exists(), "terraform never ran"


def test_tfdocs_cli_runs_as_a_module(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "hubdeploy.dev.tfdocs", "--check", str(TERRAFORM / "modules" / MODULES[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
