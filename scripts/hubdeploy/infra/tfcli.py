"""Running terraform: the binary, a generated CLI config that uses an offline provider mirror when the
machine has one (machines with Internet keep using the registry), and subprocess calls."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from hubdeploy.errors import TerraformError
from hubdeploy.settings import TF_MIRROR_VAR

log = logging.getLogger(__name__)

# Where machine images keep an offline filesystem mirror of providers (registry.terraform.io/...).
MIRROR_CANDIDATES: tuple[str, ...] = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "~/.terraform.d/plugins")


def terraform_binary(env: Mapping[str, str]) -> str:
    """Path of `terraform` (TERRAFORM_BIN, else on the PATH of `env`), or a TerraformError saying how to install it."""
    path = env.get("TERRAFORM_BIN") or shutil.which("terraform", path=env.get("PATH"))
    if not path:
        raise TerraformError("terraform is not installed", hint="install Terraform >= 1.10 and put it on PATH")
    return path


def find_provider_mirror(env: Mapping[str, str]) -> Path | None:
    """The first mirror folder holding hashicorp/aws, or HUBDEPLOY_TF_MIRROR (of `env`) when set."""
    explicit = env.get(TF_MIRROR_VAR)
    candidates = [explicit] if explicit else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        root = Path(candidate).expanduser()
        if (root / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return root
    return None


def write_cli_config(cache_dir: Path, env: Mapping[str, str]) -> Path:
    """Write `<cache_dir>/terraformrc`: the offline mirror for hashicorp/* if one exists, else the
    registry; plus a shared plugin cache so each root does not copy the ~700 MB provider again."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    plugin_cache = cache_dir / "plugin-cache"
    plugin_cache.mkdir(exist_ok=True)
    mirror = find_provider_mirror(env)
    lines = [f'plugin_cache_dir = "{plugin_cache}"', "plugin_cache_may_break_dependency_lock_file = true"]
    if mirror:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            '    include = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "  direct {",
            '    exclude = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "}",
        ]
    path = cache_dir / "terraformrc"
    path.write_text("\n".join(lines) + "\n")
    return path


def terraform_env(repo_root: Path, base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Process environment for terraform: `base` (Settings.environ), our CLI config, no prompts, plus `extra`."""
    env = dict(base)
    env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(repo_root / ".cache" / "terraform", env))
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env.update(extra or {})
    return env


def run_terraform(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    capture: bool = True,
    check: bool = True,
    ok_codes: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run `terraform <args>` in `cwd`; raise TerraformError with its stderr tail on failure."""
    cmd = [terraform_binary(env), *args]
    log.debug("running %s in %s", " ".join(cmd), cwd)
    proc = subprocess.run(cmd, cwd=cwd, env=dict(env), text=True, capture_output=capture, check=False)
    if check and proc.returncode not in ok_codes:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
        raise TerraformError(
            f"terraform {args[0]} failed in {cwd} (exit {proc.returncode}): " + " | ".join(tail),
            hint="read the terraform error above; re-run with --debug for the full output",
        )
    return proc
