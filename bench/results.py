"""The benchmark result record and the shared `.bench/results.json` file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

RESULTS_PATH = Path(".bench") / "results.json"


@dataclass(frozen=True)
class Result:
    """One measured number. `ratio` is what targets are stated in (e.g. seed time / ours)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    note: str = ""
    # The target for this entry, checked against `ratio` when set, else `value`:
    # target_op ">=" or "<=" and target_value (e.g. ">=", 25.0 for "at least 25x the seed").
    target_op: Literal[">=", "<="] | None = None
    target_value: float | None = None

    @property
    def target(self) -> str:
        """The target as the README shows it, e.g. '>= 25x'; '' when the entry has none."""
        if self.target_op is None or self.target_value is None:
            return ""
        suffix = "x" if self.ratio is not None else f" {self.unit}"
        return f"{self.target_op} {self.target_value:g}{suffix}"

    @property
    def met(self) -> bool | None:
        """Whether the measured number meets the target; None when the entry has none."""
        if self.target_op is None or self.target_value is None:
            return None
        measured = self.ratio if self.ratio is not None else self.value
        return measured >= self.target_value if self.target_op == ">=" else measured <= self.target_value


def save(results: list[Result], path: Path = RESULTS_PATH) -> Path:
    """Merge `results` into the file by name (later runs of one module replace its entries)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing: dict[str, dict] = {}
    if path.exists():
        existing = {r["name"]: r for r in json.loads(path.read_text())}
    for result in results:
        existing[result.name] = asdict(result)
    path.write_text(json.dumps(list(existing.values()), indent=2) + "\n")
    return path


def table(results: list[Result]) -> str:
    """A fixed-width table for the terminal."""
    rows = [("name", "value", "unit", "baseline", "ratio")]
    for r in results:
        rows.append(
            (
                r.name,
                f"{r.value:.4g}",
                r.unit,
                "" if r.baseline is None else f"{r.baseline:.4g}",
                "" if r.ratio is None else f"{r.ratio:.2f}x",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows)
