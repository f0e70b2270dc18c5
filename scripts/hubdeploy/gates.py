"""`model-gates.toml` at the repo root: what a model must be to go to an environment, in one reviewed file.

One table per environment; an environment without a table, or a key left out, is unrestricted. Every key is
parsed and checked here:

    [staging]
    licences = ["apache-2.0", "mit", "bsd-3-clause"]
    min_accuracy = 0.75        # head's accuracy on evaluation/sentences.jsonl, 0..1
    max_accuracy_drop = 0.02   # how far head's accuracy may fall below base's, 0..1
    max_flips = 20             # most sentences whose label may change, an integer >= 0
    min_int8_agreement = 0.99  # an env with precision = "int8": share of sentences int8 labels as fp32 does, 0..1

A licence is checked against the facts `hubdeploy pin` recorded for the pinned revision (`artifacts.facts`):
a pin without recorded facts, or a model card that declares no licence, is not allowed where a list is set.
The evaluation gates are checked by `hubdeploy evaluate` against the numbers it measured
(`hubdeploy.evaluation`): base is what the env has deployed, head the PR's pin and serving code.
`min_int8_agreement` applies only to an env whose terraform.tfvars sets `precision = "int8"`, and there it
applies even when left out (DEFAULT_MIN_INT8_AGREEMENT): int8 is on only where it is shown to agree with fp32.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hubdeploy.artifacts.facts import ModelFacts, facts_for
from hubdeploy.envs import ENVIRONMENTS, HUB_MODEL_ID, ModelPin, facts_path
from hubdeploy.errors import PinError, UsageError

GATES_FILE = "model-gates.toml"
KNOWN_KEYS: dict[str, str] = {
    "licences": 'list of allowed licence ids, e.g. ["apache-2.0", "mit"]',
    "unlicensed_accepted": 'a table [ENV.unlicensed_accepted] of "owner/model" = "why it may be used"',
    "min_accuracy": "lowest accuracy allowed on the evaluation set, a number from 0 to 1, e.g. 0.75",
    "max_accuracy_drop": "how far accuracy may fall below the deployed model's, a number from 0 to 1, e.g. 0.02",
    "max_flips": "most evaluation sentences whose label may change, an integer >= 0, e.g. 20",
    "min_int8_agreement": 'for an env with precision = "int8": lowest share of evaluation sentences int8 must '
    "label as fp32 does, a number from 0 to 1 (default 0.99)",
}
DEFAULT_MIN_INT8_AGREEMENT = 0.99
# Accuracies are ratios of counts: compare with a little slack so 0.9 - 0.85 does not exceed a limit of 0.05.
SLACK = 1e-9


@dataclass(frozen=True)
class EnvGates:
    """The gates of one environment; None means not restricted."""

    env: str
    licences: frozenset[str] | None = None
    # models whose card declares no licence, accepted after a person reviewed their terms: model id -> the reason
    unlicensed_accepted: dict[str, str] = field(default_factory=dict)
    min_accuracy: float | None = None
    max_accuracy_drop: float | None = None
    max_flips: int | None = None
    min_int8_agreement: float | None = None  # None: DEFAULT_MIN_INT8_AGREEMENT for an int8 env

    @property
    def evaluation_gates(self) -> dict[str, float | int]:
        """The evaluation gates that are set, by name."""
        named = {"min_accuracy": self.min_accuracy, "max_accuracy_drop": self.max_accuracy_drop}
        named |= {"max_flips": self.max_flips, "min_int8_agreement": self.min_int8_agreement}
        return {k: v for k, v in named.items() if v is not None}

    @property
    def int8_agreement_limit(self) -> float:
        """What an int8 env's int8 answers must agree with fp32's on: the key's value, else the default."""
        return DEFAULT_MIN_INT8_AGREEMENT if self.min_int8_agreement is None else self.min_int8_agreement


@dataclass(frozen=True)
class ModelGates:
    path: Path
    envs: dict[str, EnvGates] = field(default_factory=dict)

    def for_env(self, env: str) -> EnvGates:
        return self.envs.get(env, EnvGates(env=env))


def _bad(path: Path, what: str, hint: str) -> UsageError:
    return UsageError(f"{path.name}: {what}", hint=hint)


def _licences(path: Path, env: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(path, f"[{env}] licences must be a list of licence ids", 'write e.g. licences = ["apache-2.0"]')
    if not value:
        raise _bad(path, f"[{env}] licences is empty: no model could be deployed", "list licences, or remove the key")
    return frozenset(v.strip().lower() for v in value)


def _fraction(path: Path, env: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _bad(path, f"[{env}] {key} must be a number from 0 to 1, not {value!r}", f"write e.g. {key} = 0.05")
    return float(value)


def _count(path: Path, env: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(path, f"[{env}] {key} must be an integer >= 0, not {value!r}", f"write e.g. {key} = 20")
    return value


def _unlicensed_accepted(path: Path, env: str, value: Any) -> dict[str, str]:
    example = f'[{env}.unlicensed_accepted] then "owner/model" = "terms reviewed by ... on ...: why"'
    if not isinstance(value, dict):
        raise _bad(path, f"[{env}] unlicensed_accepted must be a table of model id = reason", f"write {example}")
    for model, reason in value.items():
        if not HUB_MODEL_ID.match(model):
            raise _bad(path, f"[{env}.unlicensed_accepted] {model!r} is not a Hub model id", "write it as owner/model")
        if not isinstance(reason, str) or not reason.strip():
            raise _bad(path, f"[{env}.unlicensed_accepted] {model} needs the reason it may be used", f"write {example}")
    return {model: reason.strip() for model, reason in value.items()}


def parse(path: Path, text: str) -> ModelGates:
    """The gates in `text` (the contents of `path`).

    Raises:
        UsageError: not TOML, an unknown environment or key, or a value of the wrong shape.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(path, f"is not valid TOML ({exc})", "fix the syntax (https://toml.io)") from None
    envs: dict[str, EnvGates] = {}
    for env, table in data.items():
        if env not in ENVIRONMENTS:
            raise _bad(path, f"unknown environment [{env}]", f"use tables named {', '.join(ENVIRONMENTS)}")
        if not isinstance(table, dict):
            raise _bad(path, f"{env} must be a table ([{env}])", f'write [{env}] then licences = ["apache-2.0"]')
        unknown = sorted(set(table) - set(KNOWN_KEYS))
        if unknown:
            known = "; ".join(f"{k}: {v}" for k, v in KNOWN_KEYS.items())
            raise _bad(path, f"[{env}] has unknown key(s) {', '.join(unknown)}", f"known keys: {known}")
        accepted = (
            _unlicensed_accepted(path, env, table["unlicensed_accepted"]) if "unlicensed_accepted" in table else {}
        )
        envs[env] = EnvGates(
            env=env,
            licences=_licences(path, env, table["licences"]) if "licences" in table else None,
            min_accuracy=_fraction(path, env, "min_accuracy", table["min_accuracy"])
            if "min_accuracy" in table
            else None,
            max_accuracy_drop=(
                _fraction(path, env, "max_accuracy_drop", table["max_accuracy_drop"])
                if "max_accuracy_drop" in table
                else None
            ),
            max_flips=_count(path, env, "max_flips", table["max_flips"]) if "max_flips" in table else None,
            min_int8_agreement=(
                _fraction(path, env, "min_int8_agreement", table["min_int8_agreement"])
                if "min_int8_agreement" in table
                else None
            ),
            unlicensed_accepted=accepted,
        )
    return ModelGates(path=path, envs=envs)


def load(repo_root: Path) -> ModelGates:
    path = repo_root / GATES_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(
            f"no {GATES_FILE} at {repo_root}", hint="restore it with git: it holds the model gates"
        ) from None
    return parse(path, text)


def check_licence(gates: EnvGates, pin: ModelPin, facts: ModelFacts | None, *, repo_root: Path) -> str:
    """One line saying the pinned model's licence passes `gates`, or a PinError naming it and what to change."""
    if gates.licences is None:
        return f"{gates.env}: any licence allowed ({GATES_FILE} sets no licences for {gates.env})"
    allowed = ", ".join(sorted(gates.licences))
    model = f"{pin.hub_model_id}@{pin.hub_revision[:12]}"
    if facts is None:
        shown = facts_path(repo_root, gates.env).relative_to(repo_root)
        raise PinError(
            f"{gates.env}: the licence of {model} is unknown ({shown} has no facts for this revision)",
            hint=f"run: hubdeploy pin --env {gates.env} --revision {pin.hub_revision} (it records the Hub's facts)",
        )
    if facts.licence is None and pin.hub_model_id in gates.unlicensed_accepted:
        reason = gates.unlicensed_accepted[pin.hub_model_id]
        where = f"{GATES_FILE} [{gates.env}.unlicensed_accepted]"
        return f"{gates.env}: {model} declares no licence; accepted by {where}: {reason}"
    if facts.licence is None:
        raise PinError(
            f"{gates.env}: {model} declares no licence ({facts.recorded_from}); {GATES_FILE} [{gates.env}] allows "
            f"only {allowed}",
            hint="pin a model whose card declares an allowed licence (offline pins read no card: pin with network "
            f"access), or, once a person has reviewed its terms, accept it: [{gates.env}.unlicensed_accepted] "
            f'"{pin.hub_model_id}" = "<who reviewed what, when>" in {GATES_FILE}',
        )
    if facts.licence not in gates.licences:
        raise PinError(
            f"{gates.env}: licence {facts.licence!r} of {model} is not allowed ({GATES_FILE} [{gates.env}] "
            f"licences: {allowed})",
            hint=f"pin another model, or, once its licence is reviewed, add it to [{gates.env}] licences in "
            f"{GATES_FILE}",
        )
    return f"{gates.env}: licence {facts.licence} of {model} is allowed"


def check_pinned(repo_root: Path, env: str, pin: ModelPin) -> list[str]:
    """Every gate of `env` for its pin; returns what passed, raises on the first that fails."""
    gates = load(repo_root).for_env(env)
    return [check_licence(gates, pin, facts_for(repo_root, env, pin), repo_root=repo_root)]


@dataclass(frozen=True)
class GateResult:
    """One evaluation gate checked: its limit, the measured value, and whether it passed (None: not applicable)."""

    name: str
    limit: float | int
    value: float | int | None
    passed: bool | None
    message: str  # what a reader sees: the numbers, and for a failure the file and table to change

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "limit": self.limit,
            "value": self.value,
            "passed": self.passed,
            "note": self.message,
        }


Verdict = Literal["pass", "fail"]


def check_evaluation(
    gates: EnvGates, *, head_accuracy: float, base_accuracy: float | None, flips: int | None
) -> list[GateResult]:
    """Each evaluation gate set for `gates.env` (min_accuracy, max_accuracy_drop, max_flips) against the numbers.

    `base_accuracy` and `flips` are None when the env had no model at base: the drop and flip gates then do not
    apply (there is nothing to compare with), and say so.
    """
    where = f"({GATES_FILE} [{gates.env}])"
    results: list[GateResult] = []
    if gates.min_accuracy is not None:
        limit = gates.min_accuracy
        ok = head_accuracy >= limit - SLACK
        message = (
            f"accuracy {head_accuracy:.4f} is at least min_accuracy {limit:g}"
            if ok
            else f"{gates.env}: accuracy {head_accuracy:.4f} is below min_accuracy {limit:g} {where}"
        )
        results.append(GateResult("min_accuracy", limit, round(head_accuracy, 4), ok, message))
    if gates.max_accuracy_drop is not None:
        limit = gates.max_accuracy_drop
        if base_accuracy is None:
            results.append(
                GateResult("max_accuracy_drop", limit, None, None, "not applicable: nothing deployed at base")
            )
        else:
            drop = base_accuracy - head_accuracy
            ok = drop <= limit + SLACK
            change = f"{base_accuracy:.4f} -> {head_accuracy:.4f}"
            message = (
                f"accuracy {change}, a drop of {max(drop, 0.0):.4f}, within max_accuracy_drop {limit:g}"
                if ok
                else f"{gates.env}: accuracy dropped by {drop:.4f} ({change}), more than max_accuracy_drop "
                f"{limit:g} {where}"
            )
            results.append(GateResult("max_accuracy_drop", limit, round(drop, 4), ok, message))
    if gates.max_flips is not None:
        most = gates.max_flips
        if flips is None:
            results.append(GateResult("max_flips", most, None, None, "not applicable: nothing deployed at base"))
        else:
            ok = flips <= most
            message = (
                f"{flips} label flip(s), at most max_flips {most}"
                if ok
                else f"{gates.env}: {flips} label flips, more than max_flips {most} {where}"
            )
            results.append(GateResult("max_flips", most, flips, ok, message))
    return results


@dataclass(frozen=True)
class Int8Agreement:
    """How the head model's int8 answers compare with its fp32 ones on the evaluation set."""

    agreement: float | None  # share of sentences with the same label; None when int8 did not run
    same: int  # sentences labelled the same
    total: int
    error: str | None = None  # why int8 did not run


def check_int8(gates: EnvGates, *, precision: str, measured: Int8Agreement, setting: str) -> GateResult | None:
    """The `min_int8_agreement` gate of an env whose `precision` (read from `setting`, the env's terraform.tfvars)
    is int8; None for an fp32 env, whose agreement is reported but not gated."""
    if precision != "int8":
        return None
    limit = gates.int8_agreement_limit
    source = f"({GATES_FILE} [{gates.env}])" if gates.min_int8_agreement is not None else "(the default)"
    stay = f'it must stay fp32: set precision = "fp32" in {setting}'
    if measured.agreement is None:
        message = (
            f"{gates.env}: precision is int8 but the head model did not run in int8 ({measured.error}), so its "
            f"agreement with fp32 is unknown: {stay}, or fix its code/inference.py"
        )
        return GateResult("min_int8_agreement", limit, None, False, message)
    ok = measured.agreement >= limit - SLACK
    numbers = f"{measured.same} of {measured.total} sentences ({measured.agreement:.4f})"
    if ok:
        message = f"int8 labels {numbers} as fp32 does, at least min_int8_agreement {limit:g} {source}"
    else:
        message = (
            f"{gates.env}: int8 labels only {numbers} as fp32 does, below min_int8_agreement {limit:g} {source}: "
            f"{stay}, or lower min_int8_agreement in {GATES_FILE} [{gates.env}] in a reviewed PR"
        )
    return GateResult("min_int8_agreement", limit, round(measured.agreement, 4), ok, message)


def verdict(results: list[GateResult]) -> Verdict:
    """fail when any gate failed; a gate that does not apply never fails."""
    return "fail" if any(r.passed is False for r in results) else "pass"
