"""The CLI runs on pyproject's dependencies alone (`make cli`, what the plan, deploy and drift jobs install):
every hubdeploy module imports, and every command's --help works, with any other installed package
(torch, transformers, moto, checkov, the dev tools) made unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: blocks every top-level module whose distribution is not hubdeploy or in the
# closure of [project].dependencies, then imports the CLI the way `hubdeploy` does.
PROBE = r"""
import importlib, importlib.abc, importlib.metadata as md, pkgutil, re, sys, tomllib

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def closure(names):
    seen, todo = set(), [norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" not in req:  # optional extras are not installed by `pip install -e .`
                todo.append(norm(re.match(r"[A-Za-z0-9._-]+", req).group(0)))
    return seen

with open(sys.argv[1], "rb") as fh:
    deps = tomllib.load(fh)["project"]["dependencies"]
allowed = closure(re.match(r"[A-Za-z0-9._-]+", d).group(0) for d in deps) | {"hubdeploy"}
blocked = {mod for mod, dists in md.packages_distributions().items() if not {norm(d) for d in dists} & allowed}
assert {"torch", "transformers", "moto"} <= blocked, sorted(blocked)[:20]

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"blocked: {name} is not a dependency of the CLI", name=name)
        return None

sys.meta_path.insert(0, Block())
import hubdeploy
from hubdeploy import cli

failed = []
for info in pkgutil.walk_packages(hubdeploy.__path__, "hubdeploy."):
    if info.name == "hubdeploy.__main__":
        continue  # runs the CLI
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {exc!r}")
for name in cli.COMMANDS:
    try:
        cli.main([name.replace("_", "-"), "--help"])
    except SystemExit as exc:
        if exc.code not in (0, None):
            failed.append(f"hubdeploy {name} --help exited {exc.code}")
print("\n".join(failed) or "ok")
"""


def test_every_module_and_command_help_import_without_torch_moto_or_dev_tools():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "ok", proc.stdout[-3000:]
