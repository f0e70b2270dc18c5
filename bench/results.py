"""The benchmark result record and the shared `.bench/results.json` file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from hubdeploy.errors import HubdeployError

RESULTS_PATH = Path(".bench") / "results.json"
TARGET_OPS = (">=", "<=")


class ResultsFileError(HubdeployError):
    """A results file is missing, is not JSON, or holds entries that are not results."""


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


def _result(entry: Any, *, where: str) -> Result:
    """One file entry as a Result, or a ResultsFileError naming what is wrong with it."""
    hint = "regenerate the file with `make bench` (or restore it from git)"
    if not isinstance(entry, dict):
        raise ResultsFileError(f"{where} is {type(entry).__name__}, not an object", hint=hint)
    known = {f.name for f in fields(Result)}
    missing = sorted({"name", "value", "unit"} - entry.keys())
    unknown = sorted(entry.keys() - known)
    if missing or unknown:
        what = [f"lacks {', '.join(missing)}"] if missing else []
        what += [f"has unknown fields {', '.join(unknown)}"] if unknown else []
        raise ResultsFileError(f"{where} {'; '.join(what)}", hint=hint)
    numbers = [k for k in ("value", "baseline", "ratio", "target_value") if entry.get(k) is not None]
    if any(isinstance(entry[k], bool) or not isinstance(entry[k], int | float) for k in numbers):
        raise ResultsFileError(f"{where}: value, baseline, ratio and target_value must be numbers", hint=hint)
    if not all(isinstance(entry.get(k, ""), str) for k in ("name", "unit", "note")):
        raise ResultsFileError(f"{where}: name, unit and note must be strings", hint=hint)
    if entry.get("target_op") not in (None, *TARGET_OPS):
        raise ResultsFileError(f"{where}: target_op {entry['target_op']!r} is none of {TARGET_OPS}", hint=hint)
    return Result(**entry)


def load(path: Path = RESULTS_PATH) -> list[Result]:
    """The results in `path`, in file order.

    Raises:
        ResultsFileError: the file is missing, is not a JSON list, or an entry is not a result (which and why).
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsFileError(f"no results file at {path}", hint="run `make bench` to measure and write it") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            hint="regenerate it with `make bench` (or restore it from git)",
        ) from None
    if not isinstance(data, list):
        raise ResultsFileError(f"{path} holds a {type(data).__name__}, not a list of results", hint="regenerate it")
    return [_result(entry, where=f"{path} entry {i}") for i, entry in enumerate(data)]


def save(results: list[Result], path: Path = RESULTS_PATH, *, replace: bool = False) -> Path:
    """Merge `results` into the file by name (later runs of one module replace its entries); `replace`: the
    file holds `results` only (a full run: no entry a renamed or removed benchmark once wrote survives)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = {r.name: r for r in load(path)} if path.exists() and not replace else {}
    for result in results:
        existing[result.name] = result
    dump(list(existing.values()), path)
    return path


def dump(results: list[Result], path: Path) -> None:
    """Write `results` as the JSON list `load` reads."""
    path.write_text(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False) + "\n")


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
