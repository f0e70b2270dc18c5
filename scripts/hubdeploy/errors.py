"""Named errors that carry the facts; the CLI turns each into one line: what went wrong, what to do."""

from __future__ import annotations


class HubdeployError(Exception):
    """A known failure. `message` says what went wrong, `hint` what the user should do about it."""

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


class AwsError(HubdeployError):
    """AWS refused: no credentials, access denied, bucket missing, ..."""


class TerraformError(HubdeployError):
    """terraform failed or is not installed."""


class GitHubError(HubdeployError):
    """The GitHub API refused or failed."""


class LocalStackError(HubdeployError):
    """A part of the local stack (emulator, runtime, API) failed."""
