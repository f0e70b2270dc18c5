"""`python -m bench [name ...]`: run the benchmark modules, print a table, write .bench/results.json (all of
them: the file is rewritten; some: their entries are merged into it)."""

from __future__ import annotations

import importlib
import sys

from bench.results import save, table
from hubdeploy.errors import HubdeployError

# One module per area; each exposes run() -> list[Result].
MODULES: tuple[str, ...] = ("build", "inference", "lambda_import", "request_size")


def main(argv: list[str]) -> int:
    selected = [m for m in MODULES if not argv or m in argv]
    results = []
    for name in selected:
        print(f">> bench {name}", flush=True)
        try:
            results.extend(importlib.import_module(f"bench.{name}").run())
        except HubdeployError as exc:  # a known failure (e.g. model/code/inference.py missing): one line, exit 1
            print(f"bench {name}: {exc.one_line()}", file=sys.stderr)
            return 1
    print(table(results))
    print(f"saved to {save(results, replace=not argv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
