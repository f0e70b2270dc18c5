"""`python -m bench [name ...]`: run the benchmark modules, print a table, write .bench/results.json."""

from __future__ import annotations

import importlib
import sys

from bench.results import save, table

# One module per area; each exposes run() -> list[Result].
MODULES: tuple[str, ...] = ("build", "inference", "lambda_import")


def main(argv: list[str]) -> int:
    selected = [m for m in MODULES if not argv or m in argv]
    results = []
    for name in selected:
        print(f">> bench {name}", flush=True)
        results.extend(importlib.import_module(f"bench.{name}").run())
    print(table(results))
    print(f"saved to {save(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
