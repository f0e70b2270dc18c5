"""Run our Lambda handler in-process from the deployed lambda.zip, like the python runtime does.

The runtime puts the unpacked zip (`/var/task`) first on sys.path, sets the function's environment,
imports the module of `Handler` ("handler.handler" -> module `handler`, function `handler`) once (cold
start), then calls it per event with a context object. The environment is the process's here: it stays set for
the function's life (the handler reads it again at its first invoke, when it creates its client) and the process's
own values come back when the next function is loaded or this one is closed.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import logging
import os
import shutil
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.errors import ArtifactError, LocalStackError

log = logging.getLogger(__name__)
_LOADED_DIRS: set[str] = set()
_IMPORT_LOCK = threading.Lock()
# The process's own values of what the loaded function's environment set (None: it was unset), and whose they are.
_REPLACED: dict[str, str | None] = {}
_ENV_OWNER: list[LambdaFunction] = []


def _set_environment(owner: LambdaFunction, environment: dict[str, str]) -> None:
    """Make `environment` the process's for `owner`, after giving back what the previous function's set."""
    _restore_environment()
    for name, value in environment.items():
        _REPLACED[name] = os.environ.get(name)
        os.environ[name] = value
    _ENV_OWNER.append(owner)


def _restore_environment() -> None:
    for name, value in _REPLACED.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _REPLACED.clear()
    _ENV_OWNER.clear()


@dataclass
class LambdaContext:
    """The attributes of the python runtime's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def unpack_lambda_zip(data: bytes, *, dest_root: Path, expected_sha256: str | None = None) -> Path:
    """Unpack lambda.zip bytes into `<dest_root>/<sha256>/` (reused when present); verify the digest.

    Raises:
        ArtifactError: the bytes do not match `expected_sha256` or are not a zip.
    """
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ArtifactError(
            f"api: artifact corrupt: lambda.zip has sha256 {digest[:12]}..., the deployed function expects "
            f"{expected_sha256[:12]}... (checksum mismatch)",
            hint="re-publish and re-apply: hubdeploy local up",
        )
    target = dest_root / digest
    if target.is_dir():
        return target
    tmp = dest_root / f".{digest}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ArtifactError(
                        f"api: lambda.zip holds an unsafe path {name!r}", hint="rebuild it: hubdeploy build"
                    )
            zf.extractall(tmp)
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"api: lambda.zip is not a zip file ({exc})", hint="rebuild it: hubdeploy build") from None
    tmp.rename(target)
    return target


class LambdaFunction:
    """One deployed function's code + configuration, imported once and invoked per event."""

    def __init__(
        self,
        code_dir: Path,
        *,
        handler: str = "handler.handler",
        environment: dict[str, str] | None = None,
        function_name: str = "local",
        function_arn: str = "",
        memory_mb: int = 128,
        timeout_seconds: int = 30,
    ) -> None:
        self.code_dir = code_dir
        self.function_name = function_name
        self.function_arn = function_arn or f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        module_name, _, func_name = handler.rpartition(".")
        if not module_name:
            raise LocalStackError(
                f"api: Lambda handler {handler!r} is not module.function", hint="fix the function's handler"
            )
        self._func = self._import(module_name, func_name, environment or {})

    def _import(self, module_name: str, func_name: str, environment: dict[str, str]) -> Callable[..., Any]:
        with _IMPORT_LOCK:
            _set_environment(self, environment)
            for name, module in list(sys.modules.items()):
                origin = getattr(module, "__file__", None) or ""
                if any(origin.startswith(d + os.sep) for d in _LOADED_DIRS):
                    sys.modules.pop(name, None)  # a previous zip's modules: import the new code
            sys.path[:] = [p for p in sys.path if p not in _LOADED_DIRS]
            _LOADED_DIRS.clear()
            sys.path.insert(0, str(self.code_dir))
            _LOADED_DIRS.add(str(self.code_dir))
            sys.modules.pop(module_name, None)
            try:
                module = importlib.import_module(module_name)
                func = getattr(module, func_name)
            except Exception as exc:  # an import error is the function's "Runtime.ImportModuleError"
                raise LocalStackError(
                    f"api: cannot import the Lambda handler {module_name}.{func_name} from {self.code_dir}: "
                    f"{type(exc).__name__}: {exc}",
                    hint="fix lambda/ and re-run hubdeploy local up",
                ) from exc
        log.info("api: Lambda %s loaded from %s", self.function_name, self.code_dir)
        return func

    def close(self) -> None:
        """Give the process back its own values of this function's environment (no-op once another is loaded)."""
        with _IMPORT_LOCK:
            if self in _ENV_OWNER:
                _restore_environment()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with a fresh context (exceptions propagate: the caller maps them to 502)."""
        context = LambdaContext(
            function_name=self.function_name,
            invoked_function_arn=self.function_arn,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.function_name}",
            _deadline=time.monotonic() + self.timeout_seconds,
        )
        return self._func(event, context)
