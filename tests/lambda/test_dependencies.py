"""lambda.zip ships only lambda/: its modules may import the standard library, the runtime's boto3 and each
other, nothing else (no layers, no region-specific ARNs). Same idea for the model's inference.py."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_lambda_imports_only_stdlib_boto3_and_its_own_modules():
    files = sorted((REPO_ROOT / "lambda").glob("*.py"))
    own = {f.stem for f in files}
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "__future__"} | own

    imported = set().union(*(top_level_imports(f) for f in files))

    assert "handler" in own
    assert imported - allowed == set()


def test_inference_imports_only_what_the_container_ships():
    imported = top_level_imports(REPO_ROOT / "model" / "code" / "inference.py")

    assert imported - set(sys.stdlib_module_names) == {"torch", "transformers"}
