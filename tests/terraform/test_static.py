"""Static checks of the Terraform tree: fmt, validate, checkov, generated READMEs, and the promise
that environments differ only in values. No emulator needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hubdeploy.dev import tfdocs
from hubdeploy.errors import UsageError
from hubdeploy.infra.emulator.override import OVERRIDE_FILE, SERVICES, render_override, write_override
from hubdeploy.infra.tfcli import run_terraform, terraform_env

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ENVS = ("dev", "staging", "prod")
MODULES = sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
DIRS = [f"modules/{m}" for m in MODULES] + [f"envs/{e}" for e in ENVS]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of terraform/ (init writes .terraform/ and must not touch the checkout)."""
    copy = tmp_path_factory.mktemp("tf-static") / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf"))
    return copy


@pytest.mark.parametrize("folder", DIRS)
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
    checkov = next((p for p in (REPO / ".venv/bin/checkov", REPO / ".venv/checkov/bin/checkov") if p.exists()), None)
    if checkov is None:
        pytest.skip("checkov is not installed (make venv installs it)")
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


READMES = {f"modules/{m}": f"modules/{m}/README.md" for m in MODULES} | {"envs/dev": "envs/README.md"}


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


def test_environments_differ_only_in_values():
    dev = TERRAFORM / "envs" / "dev"
    code_files = sorted(p.name for p in dev.glob("*.tf"))
    for env in ENVS:
        root = TERRAFORM / "envs" / env
        assert sorted(p.name for p in root.glob("*.tf")) == code_files
        for name in code_files:
            text = (root / name).read_text()
            if name == "backend.tf":
                text = text.replace(f"envs/{env}/terraform.tfstate", "envs/dev/terraform.tfstate")
            assert text == (dev / name).read_text(), f"{env}/{name} differs from dev/{name} beyond values"
        assert f'environment = "{env}"' in (root / "terraform.tfvars").read_text()
        assert (root / ".terraform.lock.hcl").read_text() == (dev / ".terraform.lock.hcl").read_text()
        assert not list(root.glob("*_override.tf")), "emulator overrides must never be committed"


def test_lock_files_pin_the_provider_with_a_linux_hash():
    for env in ENVS:
        lock = (TERRAFORM / "envs" / env / ".terraform.lock.hcl").read_text()
        assert 'version     = "5.100.0"' in lock
        assert '"h1:' in lock


def test_override_points_every_service_and_the_backend_at_the_emulator():
    text = render_override("http://127.0.0.1:5000", env="prod")
    for service in SERVICES:
        assert f"{service} " in text
    assert 'key                         = "envs/prod/terraform.tfstate"' in text
    assert "use_lockfile                = true" in text
    assert "max_retries = 2" in text
    assert "skip_requesting_account_id = false" in text


def test_override_refuses_to_write_outside_a_work_copy(tmp_path: Path):
    with pytest.raises(UsageError, match="not a hubdeploy work copy"):
        write_override(tmp_path, "http://127.0.0.1:5000", env="dev")
    assert not (tmp_path / OVERRIDE_FILE).exists()


def test_prepare_for_the_emulator_leaves_the_checkout_untouched(tmp_path: Path):
    from hubdeploy.infra import envroot

    before = {p: p.read_bytes() for p in (TERRAFORM / "envs" / "dev").iterdir() if p.is_file()}
    root = envroot.prepare(REPO, "dev", environ=os.environ, endpoint_url="http://127.0.0.1:5000", workdir=tmp_path)
    assert root.path == tmp_path / "terraform" / "envs" / "dev"
    assert (root.path / OVERRIDE_FILE).exists() and root.emulated
    after = {p: p.read_bytes() for p in (TERRAFORM / "envs" / "dev").iterdir() if p.is_file()}
    assert after == before


def test_tfdocs_cli_runs_as_a_module(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "hubdeploy.dev.tfdocs", "--check", str(TERRAFORM / "modules" / MODULES[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
