"""AWS's policy evaluation logic, for the emulator: explicit Deny wins, then an Allow is needed.

moto's own evaluator (moto/iam/access_control.py) treats most requests as resource "*" and knows hardly any
condition operator, so it cannot tell a scoped policy from an open one. This one evaluates what our policies use:
Action/NotAction and Resource/NotResource with `*` and `?` wildcards; the condition operators String*, Arn*, Bool,
Null, Numeric*, with `...IfExists` and the `ForAnyValue:`/`ForAllValues:` set qualifiers.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

Decision = Literal["allow", "deny", "implicit-deny"]
# The request context: condition key (lowercase) -> its values (a single-valued key holds one).
Context = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Outcome:
    """The decision for one action on one resource, and the statement that decided it (Sid or index)."""

    decision: Decision
    statement: str = ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # `*` any run of characters, `?` one character; everything else literal (fnmatch would also read [...]).
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*`/`?` matching (actions ignore case, resources and string values do not)."""
    return _wildcard(pattern, ignore_case).match(value) is not None


def _arn_match(pattern: str, arn: str) -> bool:
    # ArnLike compares the six colon-separated parts one by one; `*` does not cross a part boundary early.
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _compare(base: str, expected: str, actual: str) -> bool:
    """One policy value against one request value, for a non-negated base operator."""
    if base == "StringEquals":
        return expected == actual
    if base == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if base == "StringLike":
        return wildcard_match(expected, actual)
    if base in {"ArnEquals", "ArnLike"}:
        return _arn_match(expected, actual)
    if base == "Bool":
        return expected.lower() == actual.lower()
    if base.startswith("Numeric"):
        try:
            e, a = float(expected), float(actual)
        except ValueError:
            return False
        return {
            "NumericEquals": a == e,
            "NumericLessThan": a < e,
            "NumericLessThanEquals": a <= e,
            "NumericGreaterThan": a > e,
            "NumericGreaterThanEquals": a >= e,
        }[base]
    # an operator the evaluator does not know: never guess, refuse
    raise ValueError(f"condition operator {base} is not evaluated by the emulator")


NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _operator_holds(operator: str, key: str, expected: list[str], context: Context) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    actual = context.get(key.lower())
    if op == "Null":
        # Null: "true" = the key is absent, "false" = it is present
        return any((actual is None or len(actual) == 0) == (str(v).lower() == "true") for v in expected)
    negated = op in NEGATED
    base = NEGATED.get(op, op)
    if actual is None or len(actual) == 0:
        if qualifier == "ForAllValues":
            return True  # vacuously true for an empty set
        return if_exists or negated
    expected_str = [str(v).lower() if base == "Bool" else str(v) for v in expected]

    def matches(value: str) -> bool:
        hit = any(_compare(base, e, value) for e in expected_str)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(matches(v) for v in actual)
    if qualifier == "ForAnyValue":
        return any(matches(v) for v in actual)
    if negated:
        return all(matches(v) for v in actual)
    return any(matches(v) for v in actual)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, context: Context) -> bool:
    """Every operator and every key of a Condition block holds (values of one key are ORed)."""
    for operator, pairs in (condition or {}).items():
        for key, values in pairs.items():
            if not _operator_holds(operator, key, [str(v) for v in _as_list(values)], context):
                return False
    return True


def _element_matches(statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool) -> bool:
    """Whether Action/Resource (or their Not* forms) of `statement` cover `value`; True if neither is present."""
    if name in statement:
        return any(wildcard_match(p, value, ignore_case=ignore_case) for p in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(wildcard_match(p, value, ignore_case=ignore_case) for p in _as_list(statement[f"Not{name}"]))
    return True


def statements(document: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (JSON text or parsed)."""
    doc = json.loads(document) if isinstance(document, str) else document
    return [dict(s) for s in _as_list(doc.get("Statement", []))]


def evaluate(documents: Iterable[str | Mapping[str, Any]], action: str, resource: str, context: Context) -> Outcome:
    """The decision of a set of policies (one principal's identity policies) for one action on one resource."""
    allowed = ""
    for index, statement in enumerate(s for doc in documents for s in statements(doc)):
        if not _element_matches(statement, "Action", action, ignore_case=True):
            continue
        if not _element_matches(statement, "Resource", resource, ignore_case=False):
            continue
        if not conditions_hold(statement.get("Condition"), context):
            continue
        sid = str(statement.get("Sid") or f"statement {index}")
        if statement.get("Effect") == "Deny":
            return Outcome("deny", sid)
        allowed = allowed or sid
    return Outcome("allow", allowed) if allowed else Outcome("implicit-deny")
