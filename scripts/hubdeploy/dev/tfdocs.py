"""Generate the Inputs/Outputs tables of a Terraform module's README (terraform-docs style).

`python -m hubdeploy.dev.tfdocs DIR[:README]...` rewrites the part of `DIR/README.md` (or of
README) between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` from `variables.tf` and
`outputs.tf`; `--check` only reports READMEs that are out of date (exit 1). A test runs the check,
so a README table can never drift from the code.

The parser reads the subset of HCL our modules use for variables and outputs: top-level
`description`, `type`, `default` and `sensitive` attributes; nested blocks (`validation`) are skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
BLOCK_START = re.compile(r'^(variable|output)\s+"([^"]+)"\s*\{\s*$', re.MULTILINE)
ATTRIBUTE = re.compile(r"^\s*([a-z_]+)\s*=\s*(.*)$")
# The repository's READMEs: each module's own, and the one root module's (every environment runs it).
REGENERATE = "terraform/modules/* terraform/root"


@dataclass(frozen=True)
class Item:
    """One variable or output."""

    name: str
    description: str
    type: str | None = None
    default: str | None = None  # HCL source of the default; None = required
    sensitive: bool = False


def _block_end(text: str, start: int) -> int:
    """Index just after the `}` closing the block whose `{` is at `start`, skipping strings."""
    depth, i, in_string = 0, start, False
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def _depth_change(line: str) -> int:
    """Net bracket depth of one line, ignoring string contents."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    return sum(without_strings.count(c) for c in "{([") - sum(without_strings.count(c) for c in "})]")


def _attributes(body: str) -> dict[str, str]:
    """Top-level `name = expression` pairs of a block body (multi-line expressions joined)."""
    attributes: dict[str, str] = {}
    current: str | None = None
    depth = 0
    for line in body.splitlines():
        if depth == 0:
            match = ATTRIBUTE.match(line)
            if match:
                current = match.group(1)
                attributes[current] = match.group(2).strip()
            elif line.strip().endswith("{"):
                current = None  # a nested block (validation, ...): skipped
        elif current is not None:
            attributes[current] += "\n" + line.strip()
        depth += _depth_change(line)
    return attributes


def parse(path: Path, kind: str) -> list[Item]:
    """Variables (kind="variable") or outputs (kind="output") declared in `path`."""
    if not path.exists():
        return []
    text = path.read_text()
    items = []
    for match in BLOCK_START.finditer(text):
        if match.group(1) != kind:
            continue
        brace = match.end() - 1
        body = text[brace + 1 : _block_end(text, brace) - 1]
        attrs = _attributes(body)
        description = json.loads(attrs["description"]) if "description" in attrs else ""
        items.append(
            Item(
                name=match.group(2),
                description=description,
                type=attrs.get("type"),
                default=attrs.get("default"),
                sensitive=attrs.get("sensitive") == "true",
            )
        )
    return items


def _cell(text: str) -> str:
    """Markdown table cell: pipes escaped, newlines as <br>."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    compact = re.sub(r"\s+", " ", text.strip())
    return f"`{_cell(compact)}`"


def render(module_dir: Path) -> str:
    """The generated section (markers included) for the module or root in `module_dir`."""
    variables = parse(module_dir / "variables.tf", "variable")
    outputs = parse(module_dir / "outputs.tf", "output")
    lines = [BEGIN, "## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for v in variables:
        default = "n/a" if v.default is None else _code(v.default)
        required = "yes" if v.default is None else "no"
        lines.append(f"| `{v.name}` | {_cell(v.description)} | {_code(v.type or 'any')} | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description | Sensitive |", "|---|---|:---:|"]
    for o in outputs:
        lines.append(f"| `{o.name}` | {_cell(o.description)} | {'yes' if o.sensitive else 'no'} |")
    lines.append(END)
    return "\n".join(lines)


def updated_readme(readme: Path, module_dir: Path) -> str:
    """README text with the generated section replaced (or appended when it has none)."""
    section = render(module_dir)
    text = readme.read_text() if readme.exists() else f"# {module_dir.name}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="module or root folders, optionally DIR:README")
    parser.add_argument("--check", action="store_true", help="report out-of-date READMEs, change nothing")
    args = parser.parse_args(argv)
    stale = []
    for spec in args.dirs:
        folder, _, readme_path = spec.partition(":")
        module_dir = Path(folder)
        readme = Path(readme_path) if readme_path else module_dir / "README.md"
        new = updated_readme(readme, module_dir)
        if readme.exists() and readme.read_text() == new:
            continue
        stale.append(readme)
        if not args.check:
            readme.write_text(new)
    for readme in stale:
        verb = "is out of date" if args.check else "updated"
        print(f"{readme} {verb}", file=sys.stderr if args.check else sys.stdout)
    if args.check and stale:
        print(f"run: python -m hubdeploy.dev.tfdocs {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
