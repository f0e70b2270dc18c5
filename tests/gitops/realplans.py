"""Real plans for the gitops tests: apply `tfroot/` (a serving chain shaped like an env root) against the
emulator once, then plan several changes and keep each plan's `terraform show -json` and `-no-color` text."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.infra.emulator.process import Emulator
from hubdeploy.infra.tfcli import run_terraform, terraform_env

HERE = Path(__file__).resolve().parent
REV_A, REV_B = "a" * 40, "b" * 40
SHA_A, SHA_B = "1" * 64, "2" * 64


@dataclass(frozen=True)
class RealPlan:
    name: str
    json: dict[str, Any]
    text: str
    exit_code: int  # terraform plan -detailed-exitcode: 0 no changes, 2 changes


def make_plans(workdir: Path, repo_root: Path) -> dict[str, RealPlan]:
    """Apply revision A, then plan each scenario (in parallel: plans only read the state)."""
    root = workdir / "root"
    shutil.copytree(HERE / "tfroot", root)
    with Emulator(log_path=workdir / "moto.log") as emu:
        env = terraform_env(repo_root, os.environ, emu.aws_env())
        base = ["-var", f"endpoint_url={emu.endpoint_url}"]
        rev_a = [*base, "-var", f"hub_revision={REV_A}", "-var", f"model_artifact_sha256={SHA_A}"]
        rev_b = [*base, "-var", f"hub_revision={REV_B}", "-var", f"model_artifact_sha256={SHA_B}"]
        run_terraform(["init", "-input=false", "-no-color"], cwd=root, env=env)
        run_terraform(["apply", "-auto-approve", "-input=false", "-no-color", *rev_a], cwd=root, env=env)
        scenarios = {
            "pin_change": [*rev_b, "-var", "git_commit=" + "c" * 40],
            # the same inputs planned again from another commit: the hash must not move
            "pin_change_again": [*rev_b, "-var", "git_commit=" + "d" * 40],
            "instance_change": [*rev_a, "-var", "instance_type=ml.m5.xlarge"],
            "noop": rev_a,
            "destroy": ["-destroy", *rev_a],
            "secret_and_logs": [*rev_a, "-var", "api_secret=n3w-s3cr3t-never-shown", "-var", "with_logs=false"],
        }

        def plan(item: tuple[str, list[str]]) -> RealPlan:
            name, args = item
            out = f"{name}.tfplan"
            # two plans refresh against the emulator like CI does; the rest reuse the fresh state (faster)
            refresh = [] if name in {"noop", "pin_change"} else ["-refresh=false"]
            proc = run_terraform(
                [
                    "plan",
                    "-input=false",
                    "-no-color",
                    "-lock=false",
                    "-detailed-exitcode",
                    f"-out={out}",
                    *refresh,
                    *args,
                ],
                cwd=root,
                env=env,
                ok_codes=(0, 2),
            )
            shown = run_terraform(["show", "-json", out], cwd=root, env=env).stdout
            text = run_terraform(["show", "-no-color", out], cwd=root, env=env).stdout
            return RealPlan(name=name, json=json.loads(shown), text=text, exit_code=proc.returncode)

        with ThreadPoolExecutor(max_workers=2) as pool:
            plans = list(pool.map(plan, scenarios.items()))
    return {p.name: p for p in plans}
