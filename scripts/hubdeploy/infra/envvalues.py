"""An environment's value files: which ones Terraform gets, in which order, the check that none of them names
the environment, and the few values hubdeploy reads itself (the region, the precision).

`terraform/envs/<env>/` holds only values for the one root module `terraform/root`. The environment's
name is not one of them: the runner passes `-var=environment=<env>` from the folder's name (which also
picks the state key), so a file that sets `environment` could only disagree with it, and is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hubdeploy.envs import ARTIFACTS_FILE, PIN_FILE
from hubdeploy.errors import UsageError

VALUES_FILE = "terraform.tfvars"  # an env's sizing and features (committed)
IDENTITY_VARIABLE = "environment"
# terraform/root's `precision` (validated by the sagemaker-endpoint module): what model/code/inference.py reads as
# HUBDEPLOY_PRECISION; fp32 is the default of both.
PRECISION_VARIABLE = "precision"
PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "fp32"

# `name =` at the start of a line: a top-level attribute when the bracket depth is 0.
_ASSIGNMENT = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*=(?!=)')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def tfvars_names(text: str) -> set[str]:
    """Top-level variable names assigned in a `.tfvars` file (HCL) or a `.tfvars.json` file (JSON)."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return set(data)
    names: set[str] = set()
    depth = 0
    for line in text.splitlines():
        code = re.split(r"#|//", _STRING.sub('""', line), maxsplit=1)[0]
        if depth == 0 and (match := _ASSIGNMENT.match(code)):
            names.add(match.group(1))
        depth += sum(code.count(c) for c in "{([") - sum(code.count(c) for c in "})]")
    return names


def configured_string(env_dir: Path, name: str) -> str | None:
    """The string a top-level `name = "..."` line of an env's terraform.tfvars sets, or None when it sets none
    (a `name = ...` inside a map or object, such as a tag, is not the variable)."""
    values = env_dir / VALUES_FILE
    if not values.is_file():
        return None
    line_pattern = re.compile(rf'^\s*{re.escape(name)}\s*=\s*"([^"\\]*)"\s*$')
    depth = 0
    for line in values.read_text().splitlines():
        code = re.split(r"#|//", line, maxsplit=1)[0]
        if depth == 0 and (match := line_pattern.match(code)) is not None:
            return match.group(1)
        bare = _STRING.sub('""', code)
        depth += sum(bare.count(c) for c in "{([") - sum(bare.count(c) for c in "})]")
    return None


def configured_region(env_dir: Path) -> str | None:
    """The `aws_region` an env's terraform.tfvars sets (the provider's region), or None when it sets none."""
    region = configured_string(env_dir, "aws_region")
    return region if region and re.fullmatch(r"[a-z0-9-]+", region) else None


def configured_precision(env_dir: Path) -> str:
    """The `precision` an env's terraform.tfvars selects: "fp32" or "int8"; "fp32" (Terraform's default) when it sets
    none or null. The one reading of the setting outside Terraform (`hubdeploy evaluate` gates int8 on it).

    Raises:
        UsageError: a value that is not a precision, or a `precision` line this reader cannot read (it would
            otherwise be taken for fp32, and an int8 env would go ungated).
    """
    values = env_dir / VALUES_FILE
    value = configured_string(env_dir, PRECISION_VARIABLE)
    if value is None:
        text = values.read_text() if values.is_file() else ""
        null = re.compile(rf"^\s*{PRECISION_VARIABLE}\s*=\s*null\s*(#.*|//.*)?$", re.MULTILINE)
        if PRECISION_VARIABLE in tfvars_names(text) and not null.search(text):
            raise UsageError(
                f"{_shown(env_dir, values)} sets {PRECISION_VARIABLE} in a form hubdeploy cannot read",
                hint=f'write it on one line: {PRECISION_VARIABLE} = "fp32" or {PRECISION_VARIABLE} = "int8"',
            )
        return DEFAULT_PRECISION
    if value not in PRECISIONS:
        raise UsageError(
            f"{_shown(env_dir, values)}: {PRECISION_VARIABLE} = {value!r} is not one of {', '.join(PRECISIONS)}",
            hint=f'set {PRECISION_VARIABLE} = "fp32" (full precision) or "int8" (CPU instance types only)',
        )
    return value


def _shown(env_dir: Path, path: Path) -> str:
    """`terraform/envs/<env>/<file>`: where the user finds the file in their checkout."""
    return str(path.relative_to(env_dir.parents[2]))


def env_var_files(env_dir: Path, env: str) -> list[Path]:
    """The value files of `env` (its folder `env_dir`) in the order they are passed, a later one winning:
    `terraform.tfvars`, the pin, the published artifacts (only when `hubdeploy publish` wrote them, so a
    missing publish fails at plan naming the variable).

    Raises:
        UsageError: the values file is missing, or a file sets `environment`.
    """
    values = env_dir / VALUES_FILE
    if not values.is_file():
        raise UsageError(f"no {_shown(env_dir, values)}", hint="restore it with git: every environment has one")
    files = [values] + [p for p in (env_dir / PIN_FILE, env_dir / ARTIFACTS_FILE) if p.is_file()]
    for path in files:
        if IDENTITY_VARIABLE in tfvars_names(path.read_text()):
            raise UsageError(
                f"{_shown(env_dir, path)} sets {IDENTITY_VARIABLE}, but an environment's name comes from its "
                f"folder ({env}; it also picks the state key)",
                hint=f"remove the {IDENTITY_VARIABLE} line from {_shown(env_dir, path)}",
            )
    return files


def artifacts_hint(env_dir: Path, env: str) -> str | None:
    """What to do when a plan fails and `hubdeploy publish` has not written the artifacts file yet."""
    artifacts = env_dir / ARTIFACTS_FILE
    if artifacts.is_file():
        return None
    return f"run `hubdeploy publish --env {env}` first: it writes {_shown(env_dir, artifacts)}"
