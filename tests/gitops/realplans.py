"""Real plans for the gitops tests: apply `tfroot/` (the real sagemaker-endpoint module with the inputs
terraform/root gives it, plus two test-only resources) against the emulator once, then plan several
changes and keep each plan's `terraform show -json` and `-no-color` text."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hubdeploy.artifacts.publish import artifact_key
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ModelPin
from hubdeploy.infra.emulator.override import EMULATED_ACCOUNT_ID
from hubdeploy.infra.emulator.process import Emulator
from hubdeploy.infra.tfcli import run_terraform, terraform_env

HERE = Path(__file__).resolve().parent
TFROOT = Path("tests") / "gitops" / "tfroot"  # relative to the repository: it calls ../../../terraform/modules
REV_A, REV_B = "a" * 40, "b" * 40
SHA_A, SHA_B = "1" * 64, "2" * 64
BUCKET = f"hubdeploy-artifacts-{EMULATED_ACCOUNT_ID}-us-east-1"


def published_url(revision: str, sha256: str) -> str:
    """The model_data_url `hubdeploy publish` writes for this model (its key layout, a fixed upload time)."""
    slug = ModelPin(DEFAULT_HUB_MODEL_ID, revision).slug
    return f"s3://{BUCKET}/" + artifact_key(slug, "model.tar.gz", sha256, now=datetime(2026, 11, 25, 7, 0, tzinfo=UTC))


URL_A, URL_B = published_url(REV_A, SHA_A), published_url(REV_B, SHA_B)


@dataclass(frozen=True)
class RealPlan:
    name: str
    json: dict[str, Any]
    text: str
    exit_code: int  # terraform plan -detailed-exitcode: 0 no changes, 2 changes
    applied: dict[str, Any] = field(default_factory=dict)  # `terraform output` of the state it was planned on


def make_plans(workdir: Path, repo_root: Path) -> dict[str, RealPlan]:
    """Apply revision A, then plan each scenario (in parallel: plans only read the state)."""
    # the test root and the real modules, at the same relative places as in the repository
    shutil.copytree(HERE / "tfroot", workdir / TFROOT)
    shutil.copytree(repo_root / "terraform" / "modules", workdir / "terraform" / "modules")
    root = workdir / TFROOT
    with Emulator(log_path=workdir / "moto.log") as emu:
        env = terraform_env(repo_root, os.environ, emu.aws_env())
        base = ["-var", f"endpoint_url={emu.endpoint_url}"]
        rev_a = [*base, "-var", f"hub_revision={REV_A}", "-var", f"model_artifact_sha256={SHA_A}"]
        rev_a += ["-var", f"model_data_url={URL_A}"]
        rev_b = [*base, "-var", f"hub_revision={REV_B}", "-var", f"model_artifact_sha256={SHA_B}"]
        rev_b += ["-var", f"model_data_url={URL_B}"]
        run_terraform(["init", "-input=false", "-no-color"], cwd=root, env=env)
        run_terraform(["apply", "-auto-approve", "-input=false", "-no-color", *rev_a], cwd=root, env=env)
        outputs = json.loads(run_terraform(["output", "-json"], cwd=root, env=env).stdout)
        applied = {name: item["value"] for name, item in outputs.items()}
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
            # the pin change planned twice and the no-op refresh against the emulator like CI does (the
            # deploy job re-plans with a refresh); the rest reuse the fresh state (faster)
            refresh = [] if name in {"noop", "pin_change", "pin_change_again"} else ["-refresh=false"]
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
            return RealPlan(name=name, json=json.loads(shown), text=text, exit_code=proc.returncode, applied=applied)

        with ThreadPoolExecutor(max_workers=2) as pool:
            plans = list(pool.map(plan, scenarios.items()))
    return {p.name: p for p in plans}
