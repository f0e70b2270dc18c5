"""The plan's text (`plan.txt`): `terraform show -no-color` of the plan file, but for a plan that changes nothing.

`terraform show` loads the whole AWS provider schema again: about 2.5 CPU-s a call on a 2-core runner, as much as
deciding the plan took. A plan with no resource change, no output change and no drift is rendered by Terraform as
one fixed message per plan mode (its renderer prints nothing else then), so that message is written instead of
running terraform a second time. Docs-only PRs, deploy gates of untouched envs and nightly drift runs without drift
are all such plans. tests/gitops/test_plantext.py compares the messages with what this machine's terraform prints,
so a Terraform release that rewords them fails a test instead of the text drifting from Terraform's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hubdeploy.infra.tfcli import run_terraform

# `terraform show -no-color` of a plan with nothing to do (stdout is a pipe: wrapped at 78 columns, leading newline).
NO_CHANGES = (
    "\nNo changes. Your infrastructure matches the configuration.\n\n"
    "Terraform has compared your real infrastructure against your configuration\n"
    "and found no differences, so no changes are needed.\n"
)
NO_CHANGES_REFRESH_ONLY = (
    "\nNo changes. Your infrastructure still matches the configuration.\n\n"
    "Terraform has checked that the real remote objects still match the result of\n"
    "your most recent changes, and found no differences.\n"
)


def changes_nothing(doc: Mapping[str, Any]) -> bool:
    """True when the plan JSON holds nothing `terraform show` would render: every resource (data sources too) and
    output a no-op, and no drift (a normal plan may show drift that matters to it; a refresh-only plan is drift)."""
    resources = [rc.get("change", {}).get("actions") for rc in doc.get("resource_changes") or []]
    outputs = [out.get("actions") for out in (doc.get("output_changes") or {}).values()]
    return not doc.get("resource_drift") and all(actions == ["no-op"] for actions in resources + outputs)


def plan_text(
    doc: Mapping[str, Any], planfile: Path, *, cwd: Path, env: Mapping[str, str], destroy: bool, refresh_only: bool
) -> str:
    """What `terraform show -no-color planfile` prints; `doc` is its `show -json`. Destroy plans always run it (their
    no-change message names what there was to destroy)."""
    if not destroy and changes_nothing(doc):
        return NO_CHANGES_REFRESH_ONLY if refresh_only else NO_CHANGES
    return run_terraform(["show", "-no-color", str(planfile)], cwd=cwd, env=env).stdout
