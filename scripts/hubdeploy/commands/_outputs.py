"""Terraform outputs for commands that act on a deployed env: from the env root, or a saved JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hubdeploy.errors import UsageError
from hubdeploy.settings import Settings


def read_outputs(settings: Settings, env: str, outputs_json: Path | None) -> dict[str, Any]:
    """`terraform output -json` values of `env` (unwrapped), or those saved in `outputs_json`."""
    if outputs_json is None:
        from hubdeploy.gitops import planfolder
        from hubdeploy.infra import envroot

        return envroot.output_json(planfolder.open_root(settings, env))
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
