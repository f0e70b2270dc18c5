"""The PR workflow's one required check ("hubdeploy result"): the outcome of the jobs it needs, and for a PR
from a fork (no OIDC token, a read-only GITHUB_TOKEN, so no plans) a note saying why there is no plan.

GitHub's `needs` context gives each job's `result`: success, failure, cancelled or skipped.
https://docs.github.com/en/actions/reference/workflows-and-actions/contexts#needs-context
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hubdeploy.errors import UsageError

RESULTS = frozenset({"success", "failure", "cancelled", "skipped"})
# Jobs that a fork PR skips on purpose (they need AWS credentials and a writable token).
SKIPPED_FOR_FORKS = frozenset({"plan"})
FORK_NOTE = (
    "Plans run only for branches of this repository: a pull request from a fork gets no OIDC token for the "
    "AWS roles and a read-only GITHUB_TOKEN, so it is linted and tested but not planned. A maintainer can push "
    "the branch to this repository (or run `hubdeploy preview --env ENV` locally) to see the per-environment plans."
)


@dataclass(frozen=True)
class Verdict:
    """What the required check reports."""

    ok: bool
    lines: tuple[str, ...]


def parse_needs(raw: str) -> dict[str, str]:
    """`{job: result}` from the workflow's `toJSON(needs)`."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--needs-json is not JSON ({exc})", hint="pass ${{ toJSON(needs) }} through env:") from None
    if not isinstance(data, dict) or not data:
        raise UsageError("--needs-json holds no jobs", hint="give the result job `needs:` and pass toJSON(needs)")
    results = {}
    for job, value in data.items():
        result = value.get("result") if isinstance(value, dict) else None
        if result not in RESULTS:
            raise UsageError(f"job {job!r} has no known result ({result!r})", hint="pass ${{ toJSON(needs) }}")
        results[str(job)] = str(result)
    return results


def verdict(results: dict[str, str], *, from_fork: bool) -> Verdict:
    """Pass when every needed job succeeded, or was skipped on purpose (the plans of a fork PR)."""
    lines, ok = [], True
    for job, result in sorted(results.items()):
        expected_skip = result == "skipped" and from_fork and job in SKIPPED_FOR_FORKS
        good = result == "success" or expected_skip
        ok = ok and good
        note = " (fork PR: not planned)" if expected_skip else ""
        lines.append(f"{'✅' if good else '❌'} {job}: {result}{note}")
    return Verdict(ok=ok, lines=tuple(lines))
