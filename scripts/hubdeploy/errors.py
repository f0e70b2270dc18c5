"""Named errors that carry the facts; the CLI turns each into one line: what went wrong, what to do."""

from __future__ import annotations

from typing import Any


class HubdeployError(Exception):
    """A known failure. `message` says what went wrong, `hint` what the user should do about it."""

    exit_code: int = 1  # what the CLI exits with (an interruption by a signal: 128 + its number)

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single line the CLI prints: the problem, then the fix."""
        return f"{self.message} -> {self.hint}" if self.hint else self.message


class UsageError(HubdeployError):
    """The command line or a config file is wrong (unknown env, bad flag value)."""


class PinError(HubdeployError):
    """A model pin is missing, malformed, or not acceptable for its environment."""


class HubError(HubdeployError):
    """The Hugging Face Hub refused, could not be reached, or lacks the revision/files."""


class ArtifactError(HubdeployError):
    """A model folder or artifact is missing files, unreadable, or fails its checksum."""


class EvaluationError(HubdeployError):
    """A model change failed an evaluation gate of model-gates.toml (the message names the gate and the numbers)."""


class AwsError(HubdeployError):
    """AWS refused: no credentials, access denied, bucket missing, ..."""


class TerraformError(HubdeployError):
    """terraform failed or is not installed."""


class GitHubError(HubdeployError):
    """The GitHub API refused or failed."""


class LocalStackError(HubdeployError):
    """A part of the local stack (emulator, runtime, API) failed."""


class SmokeError(HubdeployError):
    """The deployed environment failed its smoke test (or could not be tested)."""


class LoadTestError(HubdeployError):
    """A load test could not run, or its requests failed beyond the allowed error rate."""


class AuthError(HubdeployError):
    """No way to authenticate to an env's API (missing token URL, client secret, API key, credentials)."""


class StateLockError(TerraformError):
    """The env's Terraform state is locked by another run (or a stale lock a killed run left behind)."""

    def __init__(self, message: str, *, hint: str = "", lock_id: str) -> None:
        super().__init__(message, hint=hint)
        self.lock_id = lock_id


class TerraformInterrupted(TerraformError):
    """hubdeploy got SIGINT/SIGTERM while terraform ran; terraform was told to stop and has exited."""

    def __init__(self, message: str, *, hint: str = "", signal_number: int, lock_id: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.signal_number = signal_number
        self.lock_id = lock_id  # the state lock terraform could not release, if it said so
        self.exit_code = 128 + signal_number  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


class PlanChangedError(TerraformError):
    """The plan at deploy time is not the plan that was reviewed."""


class RollbackError(HubdeployError):
    """Rolling back the endpoint was impossible or did not finish."""


# -- Control flow and protocol faults: caught inside hubdeploy and turned into a retry, a skip, or the HTTP
# answer the emulated service would give; never shown as a CLI error.


class KeyExists(Exception):
    """A conditional S3 write found the key already taken."""


class ModelLoadError(Exception):
    """The toolkit could not initialise the model (bad code/inference.py, missing files, ...)."""


class OAuthError(Exception):
    """An RFC 6749 error answer of the local token endpoint: `error` code and HTTP status."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class TokenRejected(Exception):
    """The token is missing, malformed, forged, expired, or not for this API. The message says which."""


class DeploymentFault(Exception):
    """The control plane does not describe a servable endpoint (InvokeEndpoint's error code + message)."""

    def __init__(self, code: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class RuntimeFault(Exception):
    """An InvokeEndpoint error: code (SageMaker's error shape name), HTTP status, message, extra fields."""

    def __init__(self, code: str, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ErrorCode": self.code, "Message": self.message, **self.extra}
