"""The package layout keeps its promises: small modules, errors in one place, environment variables read once,
thin commands, and a README code map that names the folders that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "scripts" / "hubdeploy"
MAX_LINES = 400
MAX_COMMAND_LINES = 150
# Where reading or changing os.environ is the point: the one reader, and processes that play a runtime
# whose configuration IS its environment.
ENVIRON_ALLOWED = {
    "settings.py": "reads the environment once, for everything else",
    "infra/emulator/server.py": "the emulator program configures moto (it reads its settings from the environment)",
    "local/daemon.py": "plays the Lambda runtime: the handler's boto3 reads its endpoints from the environment",
    "local/lambdarun.py": "applies the function's configured environment, as Lambda does",
    "local/toolkit.py": "applies the model container's environment, which the toolkit reads",
}

pytestmark = pytest.mark.unit


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_no_module_is_over_400_lines_without_a_reason_at_its_top():
    for path in modules():
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines <= MAX_LINES or "Long because" in docstring, f"{rel(path)}: {lines} lines"


def test_every_exception_class_lives_in_errors_py():
    for path in modules():
        if rel(path) == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                assert not any(b.endswith(("Error", "Exception", "Fault")) for b in bases), (
                    f"{rel(path)}: class {node.name} is an exception: define it in hubdeploy/errors.py"
                )


def test_the_environment_is_read_only_where_that_is_the_point():
    readers = {rel(p) for p in modules() if re.search(r"\bos\.(environ|getenv|putenv|unsetenv)\b", p.read_text())}
    assert readers <= set(ENVIRON_ALLOWED), f"read Settings instead: {sorted(readers - set(ENVIRON_ALLOWED))}"


def test_commands_stay_thin():
    for path in sorted((PACKAGE / "commands").glob("*.py")):
        lines = path.read_text().count("\n")
        assert lines <= MAX_COMMAND_LINES, f"{rel(path)}: {lines} lines; move the logic to a plain module"


def test_the_readme_code_map_names_every_package_folder():
    text = (REPO / "README.md").read_text()
    code_map = text[text.index("## How the code is organised") :]
    folders = sorted(
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE and "__pycache__" not in p.parts
    )
    for folder in (f.removesuffix("/__init__.py") for f in folders):
        assert f"{folder.split('/')[-1]}/" in code_map, f"the README's code map does not show {folder}/"
