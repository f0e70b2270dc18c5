"""plan.txt without a second `terraform show` for a plan that changes nothing: the fixed messages are what this
machine's terraform prints, and every plan that does change something is still rendered by terraform.

The root is a `terraform_data` resource (Terraform's built-in provider: no AWS provider, no emulator), so the real
binary renders each plan in under a second."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hubdeploy.gitops import plantext
from hubdeploy.infra import tfcli

pytestmark = pytest.mark.unit

ROOT = """
resource "terraform_data" "this" {
  input = var.value
}
variable "value" {
  type = string
}
output "value" {
  value = var.output
}
variable "output" {
  type = string
}
"""


class Root:
    """A one-resource root with local state, applied once with value=a, output=a."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = tfcli.terraform_env(path, {"PATH": os.environ["PATH"], "HOME": str(path)})
        (path / "main.tf").write_text(ROOT)
        self.tf("init", "-input=false")
        self.tf("apply", "-auto-approve", "-input=false", "-var=value=a", "-var=output=a")

    def tf(self, *args: str) -> str:
        return tfcli.run_terraform(list(args), cwd=self.path, env=self.env, ok_codes=(0, 2)).stdout

    def plan(self, *args: str) -> tuple[dict[str, Any], Path]:
        planfile = self.path / "tfplan"
        self.tf("plan", "-input=false", "-detailed-exitcode", f"-out={planfile}", *args)
        return json.loads(self.tf("show", "-json", str(planfile))), planfile

    def text(self, doc: dict[str, Any], planfile: Path, *, destroy: bool = False, refresh_only: bool = False) -> str:
        return plantext.plan_text(
            doc, planfile, cwd=self.path, env=self.env, destroy=destroy, refresh_only=refresh_only
        )

    def show(self, planfile: Path) -> str:
        return self.tf("show", "-no-color", str(planfile))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Root:
    return Root(tmp_path_factory.mktemp("plantext"))


@pytest.mark.parametrize(
    ("args", "refresh_only", "message"),
    [
        ((), False, plantext.NO_CHANGES),
        (("-refresh-only",), True, plantext.NO_CHANGES_REFRESH_ONLY),
    ],
    ids=["normal", "refresh-only"],
)
def test_a_plan_that_changes_nothing_gets_terraforms_own_message_without_a_show(
    root: Root, args: tuple[str, ...], refresh_only: bool, message: str
):
    doc, planfile = root.plan("-var=value=a", "-var=output=a", *args)
    assert plantext.changes_nothing(doc)
    assert root.show(planfile) == message  # what terraform itself prints for this plan
    planfile.unlink()  # so a `terraform show` could not render it: the text comes from the message
    assert root.text(doc, planfile, refresh_only=refresh_only) == message


@pytest.mark.parametrize(
    ("variables", "shown"),
    [
        (("-var=value=b", "-var=output=a"), "terraform_data.this will be updated in-place"),
        (("-var=value=a", "-var=output=b"), "Changes to Outputs:"),
    ],
    ids=["resource", "output only"],
)
def test_a_plan_that_changes_something_is_rendered_by_terraform(root: Root, variables: tuple[str, ...], shown: str):
    doc, planfile = root.plan(*variables)
    assert not plantext.changes_nothing(doc)
    text = root.text(doc, planfile)
    assert text == root.show(planfile)
    assert shown in text


def test_a_destroy_plan_is_always_rendered_by_terraform(root: Root):
    doc, planfile = root.plan("-destroy", "-var=value=a", "-var=output=a")
    text = root.text(doc, planfile, destroy=True)
    assert "terraform_data.this will be destroyed" in text
    assert text == root.show(planfile)


def test_drift_or_a_data_source_read_is_a_change_to_show():
    noop = {"change": {"actions": ["no-op"]}}
    assert plantext.changes_nothing({"resource_changes": [noop], "output_changes": {"o": {"actions": ["no-op"]}}})
    assert not plantext.changes_nothing({"resource_changes": [noop], "resource_drift": [noop]})
    assert not plantext.changes_nothing({"resource_changes": [{"mode": "data", "change": {"actions": ["read"]}}]})
