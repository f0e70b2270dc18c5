"""Serve an unpacked model.tar.gz in-process exactly as AWS's Hugging Face inference container does.

In the container, multi-model-server's (MMS) Java frontend receives POST /invocations, frames the request in its
binary protocol and hands it to a Python worker. That worker loaded the model with MMS's model loader, which
instantiates the toolkit's `HuggingFaceHandlerService` and calls `initialize(context)`: `<model_dir>/code` goes
on sys.path, the module named by SAGEMAKER_PROGRAM (our `inference.py`) is imported and its
model_fn/input_fn/predict_fn/output_fn replace the toolkit's defaults. Per request the worker decodes the frame,
and `mms.service.Service.predict` calls the handler's `handle`, maps PredictionException / MemoryError / any other
failure to a status code and encodes the reply frame. `ToolkitModel` runs that Python side with MMS's own loader,
frame decoder and `Service.predict`; only the Java frontend's HTTP listener is left out. `code/requirements.txt`
is not installed here: the model runs with the packages of hubdeploy's own environment.

Used by the local stack's SageMaker runtime (`local/runtime.py`) and the serving tests (tests/model/):

    model = ToolkitModel(model_dir, environment={})  # model files at the root + code/inference.py
    answer = model.invoke(b'{"inputs": "text"}', content_type="application/json", accept=None)
    answer.status, answer.content_type, answer.body  # 200, "application/json", b'[{"label": ...}]'
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import struct
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hubdeploy.errors import ModelLoadError

log = logging.getLogger(__name__)
DEFAULT_PROGRAM = "inference.py"
HANDLER_SERVICE = "sagemaker_huggingface_inference_toolkit.handler_service"
# The toolkit's MMS config sets `decode_input_request=false`, which MMS hands its workers as this variable:
# bodies reach the handler as raw bytes. SageMaker gives the model no way to change it.
SERVER_ENV = {"MMS_DECODE_INPUT_REQUEST": "false"}
_CODE_DIRS: set[str] = set()  # `code` folders the toolkit put on sys.path


@dataclass(frozen=True)
class ModelResponse:
    """What the container answered: HTTP status, body, content type."""

    status: int
    body: bytes
    content_type: str

    @property
    def message(self) -> str:
        """The body as text: the model server's error message when `status` is not 200."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def ensure_toolkit_importable() -> None:
    """Let sagemaker-huggingface-inference-toolkit 2.6.0 import under transformers 5.

    The toolkit imports `is_tf_available` from `transformers.file_utils`, which transformers 5 removed
    (with TensorFlow support); the attribute saying "no TensorFlow" is all it needs (AWS's transformers-5
    container installs a toolkit commit without the import). Nothing changes under transformers 4, the
    current container's.
    """
    import transformers.file_utils as file_utils

    if not hasattr(file_utils, "is_tf_available"):
        file_utils.is_tf_available = lambda: False


# --- MMS's binary protocol ---------------------------------------------------------------------------------
class _Frame(io.BytesIO):
    """A frame of MMS's binary protocol, readable the way MMS reads its socket (`recv`)."""

    def recv(self, size: int) -> bytes:
        return self.read(size)

    def read_int(self) -> int:
        return int(struct.unpack("!i", self.read(4))[0])

    def read_field(self) -> bytes:
        return self.read(self.read_int())


def _field(value: bytes) -> bytes:
    return struct.pack("!i", len(value)) + value


def encode_request_frame(request_id: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A one-request predict batch as the Java frontend frames it: id, headers, then the body as the
    parameter named "body" with the request's Content-Type."""
    frame = _field(request_id.encode())
    for name, value in headers.items():
        frame += _field(name.encode()) + _field(value.encode())
    frame += struct.pack("!i", -1)
    frame += _field(b"body") + _field(headers.get("Content-Type", "").encode()) + _field(body)
    frame += struct.pack("!i", -1)
    return frame + struct.pack("!i", -1)  # end of batch


def decode_reply(frame: bytes, *, accept: str | None) -> ModelResponse:
    """The HTTP answer the frontend makes of `Service.predict`'s reply frame for a single request."""
    reply = _Frame(frame)
    code = reply.read_int()
    message = reply.read_field().decode()
    reply.read_field()  # request id
    content_type = reply.read_field().decode()
    status = reply.read_int()
    reply.read_field()  # reason phrase
    for _ in range(reply.read_int()):  # response headers
        reply.read_field()
        reply.read_field()
    body = reply.read_field()
    if code != 200:  # MMS mapped a failure to `code`; the frame's body is a placeholder, the message says why
        return ModelResponse(code, message.encode(), "text/plain")
    return ModelResponse(status, body, content_type or accept or "application/json")


# --- one model per process, as in the container ------------------------------------------------------------
@dataclass
class _ContainerEnv:
    """Whose container environment is this process's, and what it replaced."""

    owner: ToolkitModel | None = None  # the loaded model it belongs to (None: none, or its load failed)
    replaced: dict[str, str | None] = field(default_factory=dict)  # the process's own values; None: unset

    def apply(self, environment: dict[str, str]) -> None:
        """Make a model's container environment this process's (one model is served at a time)."""
        self.restore()
        for name, value in environment.items():
            self.replaced[name] = os.environ.get(name)
            os.environ[name] = value

    def restore(self) -> None:
        """Give back the process's own values of what the last container environment set."""
        for name, value in self.replaced.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.replaced.clear()
        self.owner = None


_CONTAINER_ENV = _ContainerEnv()
_ENV_LOCK = threading.Lock()


def _forget_user_module(module_name: str) -> None:
    """Drop the previous artifact's user module (and its siblings) and its `code` folder from sys.path,
    so `initialize` imports the new artifact's code instead of reusing the cached module."""
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if name == module_name or any(origin.startswith(d + os.sep) for d in _CODE_DIRS):
            sys.modules.pop(name, None)
    sys.path[:] = [p for p in sys.path if p not in _CODE_DIRS]
    _CODE_DIRS.clear()


class _InitFailure(logging.Handler):
    """Catches the exception MMS's loader logs, and then swallows, when the handler's `initialize` fails."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._thread = threading.get_ident()
        self.exc: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread and record.exc_info and self.exc is None:
            self.exc = record.exc_info[1]


def _load_service(model_dir: Path, name: str, module_name: str) -> Any:
    """`mms.service.Service` for `model_dir`, loaded as an MMS worker loads it, or ModelLoadError."""
    try:
        ensure_toolkit_importable()
        importlib.import_module(HANDLER_SERVICE)
        from mms.model_loader import ModelLoaderFactory
    except ImportError as exc:
        raise ModelLoadError(
            f"the Hugging Face inference toolkit is not installed ({exc}); install hubdeploy[serve]"
        ) from exc
    if not (model_dir / "code" / f"{module_name}.py").is_file():
        raise ModelLoadError(f"{model_dir.name}: code/{module_name}.py is missing from the artifact")
    failure = _InitFailure()
    root = logging.getLogger()  # where the loader logs (it also keeps the loader from calling basicConfig)
    root.addHandler(failure)
    try:
        loader = ModelLoaderFactory.get_model_loader(str(model_dir))
        service = loader.load(name, str(model_dir), HANDLER_SERVICE, None, 1)  # gpu none, batch size 1
    except Exception as exc:  # the loader's own checks (module, entry point)
        raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        root.removeHandler(failure)
    if not service._entry_point.__self__.initialized:
        # In the container the worker stays up and every request retries `initialize`; here the model
        # is unusable: say why.
        cause = failure.exc
        reason = f"{type(cause).__name__}: {cause}" if cause else "the handler service did not initialise (see the log)"
        raise ModelLoadError(reason) from cause
    return service


class ToolkitModel:
    """One model folder loaded as an MMS worker loads it; `invoke` is thread-safe (serialised, as one worker).

    Attributes:
        service: the `mms.service.Service` wrapping the toolkit's `HuggingFaceHandlerService.handle`.
        user_module: the artifact's `code/inference.py` as the toolkit imported it (no longer in sys.modules).
    """

    def __init__(self, model_dir: Path, *, environment: dict[str, str], name: str = "model") -> None:
        """Load `model_dir` (an unpacked model.tar.gz) with `environment` as the container's.

        Raises:
            ModelLoadError: the toolkit is not installed, the code is missing, or the model did not initialise.
        """
        self.model_dir = model_dir
        self.name = name
        self._lock = threading.Lock()
        self.user_module: ModuleType | None = None
        with _ENV_LOCK:
            env = {"SAGEMAKER_PROGRAM": DEFAULT_PROGRAM, **environment, **SERVER_ENV}
            _CONTAINER_ENV.apply(env)
            module_name = env["SAGEMAKER_PROGRAM"].removesuffix(".py")
            _forget_user_module(module_name)
            _CODE_DIRS.add(str(model_dir / "code"))
            try:
                self.service = _load_service(model_dir, name, module_name)
                self.user_module = sys.modules.get(module_name)
                _CONTAINER_ENV.owner = self
            finally:
                # The handler keeps its own references to the user functions: leave no module named
                # `inference` (nor its code folder on sys.path) for the next importer in this process.
                _forget_user_module(module_name)
        log.info("runtime: model %s loaded from %s", name, model_dir)

    def close(self) -> None:
        """Done with this model: if its container environment is still the process's, restore the process's own
        (a later model replaces it anyway; a caller serving one model in a longer process, like the PR evaluation,
        must not leave e.g. HUBDEPLOY_PRECISION=int8 behind for whatever runs next)."""
        with _ENV_LOCK:
            if _CONTAINER_ENV.owner is self:
                _CONTAINER_ENV.restore()

    def __enter__(self) -> ToolkitModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def invoke(self, body: bytes, *, content_type: str | None = None, accept: str | None = None) -> ModelResponse:
        """One InvokeEndpoint request through MMS's frame decoder and `Service.predict`.

        Args:
            body: the request body, as sent.
            content_type: its Content-Type (application/json when absent).
            accept: the Accept header, if any (the toolkit answers JSON for none and for `*/*`).

        Returns:
            The status MMS mapped (200, the PredictionException's code, 507, 503), body and content type.
        """
        from mms.protocol.otf_message_handler import _retrieve_inference_msg

        headers = {"Content-Type": content_type or "application/json"}
        if accept:
            headers["Accept"] = accept
        frame = encode_request_frame(uuid.uuid4().hex, body, headers)
        with self._lock:
            batch = _retrieve_inference_msg(_Frame(frame))
            reply = bytes(self.service.predict(batch))
        return decode_reply(reply, accept=accept)
