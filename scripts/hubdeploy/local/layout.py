"""Where the local stack keeps its files: everything under `<checkout>/.local` (git-ignored).

The checkout itself is never written to: the pipeline runs on a mirror of terraform/, model/ and lambda/
in `.local/repo`, so the generated artifacts tfvars of a real publish are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCAL_DIR = ".local"


@dataclass(frozen=True)
class Paths:
    """Everything `up` writes, under `<repo>/.local`."""

    root: Path

    @classmethod
    def of(cls, repo_root: Path) -> Paths:
        return cls(repo_root / LOCAL_DIR)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def emulator(self) -> Path:
        """pid and URL of the emulator process."""
        return self.root / "emulator.json"

    @property
    def daemon(self) -> Path:
        """pid and URLs of the daemon (runtime + API servers)."""
        return self.root / "daemon.json"

    @property
    def daemon_config(self) -> Path:
        return self.root / "daemon-config.json"

    @property
    def daemon_ready(self) -> Path:
        """Written by the daemon once its servers listen (or with the error that stopped them)."""
        return self.root / "daemon-ready.json"

    @property
    def stack(self) -> Path:
        """What `up` deployed and where it is served (holds the emulated pool's client secret: mode 0600)."""
        return self.root / "stack.json"

    @property
    def lock(self) -> Path:
        return self.root / "stack.lock"

    @property
    def mirror(self) -> Path:
        """The scratch copy of the checkout the pipeline runs on."""
        return self.root / "repo"

    @property
    def tf_work(self) -> Path:
        return self.root / "tf-work"

    @property
    def hf_cache(self) -> Path:
        """The private HF cache a stand-in model is installed in (never the user's own)."""
        return self.root / "hf-cache"

    @property
    def standin(self) -> Path:
        return self.root / "standin"

    @property
    def build(self) -> Path:
        return self.root / "build"

    def pid_files(self) -> tuple[Path, ...]:
        return (self.daemon, self.emulator)
