"""The strict emulator: rules real AWS enforces and plain moto does not.

moto accepts requests that AWS rejects, so a stack that applies against plain moto can still fail on its
first real deploy. Each rule here makes the emulator refuse what AWS refuses, with AWS's error shape
(the service's own exception class from moto, so boto3 and the Terraform provider see the code AWS
sends). Every rule names the AWS documentation it follows (`doc`) and has a test in
tests/infra/emulator/ that plain moto accepts the request and the strict emulator refuses it.

Rules live in one module per service (sagemaker, lambda_, apigateway, s3, ...); importing the module
registers them. `apply_all()` runs in the emulator process next to the gap shims (server.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

# The modules that hold rules, imported by apply_all(); a new service's module is added here.
RULE_MODULES: tuple[str, ...] = ("lambda_", "apigateway", "sagemaker", "s3", "iam")


@dataclass(frozen=True)
class Rule:
    """One AWS rule the emulator enforces: what it is, where AWS documents it, how it is applied."""

    name: str
    doc: str
    install: Callable[[], None]


RULES: dict[str, Rule] = {}


def rule(doc: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function as a rule; `doc` is the AWS documentation URL it follows."""
    if not doc.startswith("https://docs.aws.amazon.com/"):
        raise ValueError(f"a rule cites the AWS documentation, not {doc!r}")

    def register(install: Callable[[], None]) -> Callable[[], None]:
        RULES[install.__name__] = Rule(install.__name__, doc, install)
        return install

    return register


def load() -> dict[str, Rule]:
    """Import every rule module (registering its rules); returns the registry."""
    for module in RULE_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return RULES


def apply_all() -> None:
    """Install every rule (idempotent: each patch goes through patching.patch)."""
    for strict_rule in load().values():
        strict_rule.install()
