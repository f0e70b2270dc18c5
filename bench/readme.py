"""The README's benchmark table, generated from the committed results file, never typed by hand.

`bench/results.json` is the committed copy of the last full `make bench` (which writes `.bench/results.json`,
git-ignored); the block between the two markers in README.md is `render()` of it, and
tests/bench/test_bench_readme.py fails `make test` when the two differ (a hand edit, a stale table).

    python -m bench.readme           # merge .bench/results.json into bench/results.json, rewrite the table
    python -m bench.readme --replace # bench/results.json = .bench/results.json (make bench: a full run)
    python -m bench.readme --no-copy # rewrite the table from bench/results.json as it is
    python -m bench.readme --check   # exit 1 when the table is not render(bench/results.json)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.results import RESULTS_PATH, Result, load, save
from bench.standin import REPO_ROOT
from hubdeploy.errors import HubdeployError

COMMITTED = REPO_ROOT / "bench" / "results.json"
README = REPO_ROOT / "README.md"
BEGIN = "<!-- bench-table: generated from bench/results.json by `python -m bench.readme`; edits here fail make test -->"
END = "<!-- /bench-table -->"
MET = {True: "✅", False: "❌", None: "-"}


class ReadmeError(HubdeployError):
    """README.md lacks the benchmark table's markers, or its table is not the rendered results."""


def number(x: float) -> str:
    """A measured number as the table shows it: whole numbers with separators, else 3 significant digits."""
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def measured(r: Result) -> str:
    """The value with its unit; with the ratio first when the entry has one, and the baseline it compares to."""
    value = f"{number(r.value)} {r.unit}"
    baseline = None if r.baseline is None else f"{number(r.baseline)} {r.unit}"
    if r.ratio is not None:
        return f"{number(r.ratio)}x ({value} vs {baseline})" if baseline else f"{number(r.ratio)}x ({value})"
    return f"{value} (baseline {baseline})" if baseline else value


def _cell(text: str) -> str:
    # A pipe would end the cell, even inside backticks (GitHub's tables escape it as \|); a newline the row.
    return " ".join(text.split()).replace("|", "\\|")


def render(results: list[Result]) -> str:
    """The lines between the markers: a Markdown table of every result, in the file's order."""
    if not results:
        return "_No results in bench/results.json yet: `make bench` measures them and fills this table._"
    rows = ["| name | measured | target | met | note |", "|---|---|---|---|---|"]
    for r in results:
        cells = (f"`{r.name}`", measured(r), r.target or "-", MET[r.met], r.note or "-")
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def _bounds(text: str) -> tuple[int, int]:
    """Where the block starts (after BEGIN's line) and ends (at END's line)."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ReadmeError(
            "README.md must hold the benchmark table's two markers once each, begin before end",
            hint=f"restore the lines {BEGIN!r} and {END!r} around the table",
        )
    return text.index(BEGIN) + len(BEGIN) + 1, text.index(END)


def block_of(text: str) -> str:
    """The generated block currently in `text` (without the markers)."""
    start, end = _bounds(text)
    return text[start:end].strip("\n")


def with_block(text: str, block: str) -> str:
    """`text` with the block between the markers replaced by `block`."""
    start, end = _bounds(text)
    return f"{text[:start]}\n{block}\n\n{text[end:]}"  # blank lines: the table is its own Markdown block


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.readme", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's table is stale")
    parser.add_argument("--no-copy", action="store_true", help=f"do not merge {RESULTS_PATH} in first")
    parser.add_argument("--replace", action="store_true", help=f"replace the committed results with {RESULTS_PATH}")
    args = parser.parse_args(argv)
    try:
        text = README.read_text()
        if args.check:
            if block_of(text) != render(load(COMMITTED)):
                raise ReadmeError(
                    f"README.md's benchmark table is not {_shown(COMMITTED)} rendered",
                    hint="run `python -m bench.readme --no-copy` (never edit the table by hand)",
                )
            return 0
        if not args.no_copy:
            save(load(RESULTS_PATH), COMMITTED, replace=args.replace)
        README.write_text(with_block(text, render(load(COMMITTED))))
    except HubdeployError as exc:
        print(f"bench.readme: {exc.one_line()}", file=sys.stderr)
        return 1
    print(f"README.md's benchmark table rendered from {_shown(COMMITTED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
