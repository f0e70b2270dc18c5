"""Serve an unpacked model.tar.gz through the real Hugging Face inference toolkit, as the DLC does.

Inside the container, multi-model-server (MMS) imports `HuggingFaceHandlerService`, calls
`initialize(context)` once (which puts `<model_dir>/code` on sys.path and imports the module named by
SAGEMAKER_PROGRAM, our `inference.py`, taking its model_fn/input_fn/predict_fn/output_fn), then
`handle([{"body": bytes}], context)` per request. We build the same MMS `Context` objects and map
failures to status codes the way MMS's `Service.predict` does. `code/requirements.txt` is not
installed here: the local stack runs with the packages of hubdeploy's own environment.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from hubdeploy.errors import ModelLoadError

log = logging.getLogger(__name__)
DEFAULT_PROGRAM = "inference.py"
# Environment variables a SageMaker model container may set that the toolkit reads at import/initialize.
_SET_BY_US: set[str] = set()
_ENV_LOCK = threading.Lock()
_CODE_DIRS: set[str] = set()  # `code` folders the toolkit put on sys.path


@dataclass(frozen=True)
class ModelResponse:
    """What the container answered: HTTP status, body, content type."""

    status: int
    body: bytes
    content_type: str


def _apply_container_env(environment: dict[str, str]) -> None:
    """Make the model's container environment this process's (one model is served at a time)."""
    for name in _SET_BY_US - set(environment):
        os.environ.pop(name, None)
    _SET_BY_US.clear()
    for name, value in environment.items():
        os.environ[name] = value
        _SET_BY_US.add(name)


def _forget_user_module(module_name: str) -> None:
    """Drop the previous artifact's user module (and its siblings) and its `code` folder from sys.path,
    so `initialize` imports the new artifact's code instead of reusing the cached module."""
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if name == module_name or any(origin.startswith(d + os.sep) for d in _CODE_DIRS):
            sys.modules.pop(name, None)
    sys.path[:] = [p for p in sys.path if p not in _CODE_DIRS]
    _CODE_DIRS.clear()


def ensure_toolkit_importable() -> None:
    """Let sagemaker-huggingface-inference-toolkit 2.6.0 import under transformers 5.

    The toolkit imports `is_tf_available` from `transformers.file_utils`, which transformers 5 removed
    (with TensorFlow support); the attribute saying "no TensorFlow" is all it needs (AWS's transformers-5
    container installs a toolkit commit without the import). Nothing changes under transformers 4, the
    current container's. tests/model/ hosts the model through MMS with this same fix.
    """
    import transformers.file_utils as file_utils

    if not hasattr(file_utils, "is_tf_available"):
        file_utils.is_tf_available = lambda: False


class ToolkitModel:
    """One model folder loaded by `HuggingFaceHandlerService`; `invoke` is thread-safe (serialised)."""

    def __init__(self, model_dir: Path, *, environment: dict[str, str], name: str = "model") -> None:
        self.model_dir = model_dir
        self.name = name
        self._lock = threading.Lock()
        with _ENV_LOCK:
            env = {"SAGEMAKER_PROGRAM": DEFAULT_PROGRAM, **environment}
            _apply_container_env(env)
            module_name = env["SAGEMAKER_PROGRAM"].removesuffix(".py")
            _forget_user_module(module_name)
            _CODE_DIRS.add(str(model_dir / "code"))
            try:
                ensure_toolkit_importable()
                from mms.context import Context
                from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService
            except ImportError as exc:
                raise ModelLoadError(
                    f"the Hugging Face inference toolkit is not installed ({exc}); install hubdeploy[serve]"
                ) from exc
            if not (model_dir / "code" / f"{module_name}.py").is_file():
                raise ModelLoadError(f"{model_dir.name}: code/{module_name}.py is missing from the artifact")
            self._context_cls = Context
            self.service = HuggingFaceHandlerService()
            context = Context(name, str(model_dir), None, 1, None, "local")
            try:
                self.service.initialize(context)
            except Exception as exc:  # any failure of user code or transformers: the model is unusable
                raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc
            finally:
                # The service keeps its own references to the user functions: leave no module named
                # `inference` (nor its code folder on sys.path) for the next importer in this process.
                _forget_user_module(module_name)
            self._context = context
        log.info("runtime: model %s loaded from %s", name, model_dir)

    def invoke(self, body: bytes, *, content_type: str | None, accept: str | None) -> ModelResponse:
        """One request through `handle`, with MMS's status mapping (PredictionException code, 507, 503)."""
        from mms.context import RequestProcessor
        from mms.metrics.metrics_store import MetricsStore
        from mms.service import PredictionException

        headers = {"Content-Type": content_type or "application/json"}
        if accept:
            headers["Accept"] = accept
        with self._lock:
            context = self._context
            request_id = uuid.uuid4().hex
            context.request_ids = {0: request_id}
            context.request_processor = [RequestProcessor(headers)]
            context.metrics = MetricsStore(context.request_ids, self.name)
            try:
                result = self.service.handle([{"body": body}], context)
            except PredictionException as exc:
                return ModelResponse(exc.error_code, str(exc.message).encode(), "text/plain")
            except MemoryError:
                return ModelResponse(507, b"Out of resources", "text/plain")
            except Exception:
                log.warning("runtime: the handler service failed", exc_info=True)
                return ModelResponse(503, b"Prediction failed", "text/plain")
            answer = result[0] if isinstance(result, list) and len(result) == 1 else None
            if answer is None:
                return ModelResponse(503, b"Invalid model predict output", "text/plain")
            out_type = context.get_response_content_type(0) or accept or "application/json"
            data = answer if isinstance(answer, bytes) else str(answer).encode()
            return ModelResponse(200, data, out_type)
