"""Host model/code/inference.py in-process exactly as AWS's Hugging Face inference container does.

In the container, the multi-model server (MMS) frontend receives POST /invocations, frames the request in its
binary protocol and hands it to a Python worker; the worker decodes the frame, and `mms.service.Service`
calls the toolkit's `HuggingFaceHandlerService.handle(data, context)`, which imports `code/inference.py`
from the model directory. Here the frame is built and decoded with MMS's own functions, so the only part
left out is the Java frontend's HTTP listener.

Used by tests/model/ (and meant for the local stack):

    service = load_model_service(model_dir)          # model_dir holds the model files + code/inference.py
    reply = invoke(service, b'{"inputs": "text"}', content_type="application/json")
    reply.status, reply.content_type, reply.body     # 200, "application/json", b'[{"label": ...}]'
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubdeploy.local.toolkit import ensure_toolkit_importable  # the one transformers-5 fix

HANDLER_SERVICE = "sagemaker_huggingface_inference_toolkit.handler_service"
MODEL_NAME = "model"


@dataclass(frozen=True)
class Reply:
    """What the MMS worker sends back for one request: HTTP status, content type and body."""

    status: int
    message: str
    content_type: str
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def load_model_service(model_dir: Path, *, gpu_id: int | None = None) -> Any:
    """Load the toolkit's handler service for `model_dir` the way an MMS worker does (`mms.service.Service`).

    Sets what SageMaker sets: SAGEMAKER_PROGRAM=inference.py, and MMS_DECODE_INPUT_REQUEST=false (from the
    toolkit's MMS config `decode_input_request=false`: bodies reach the handler as raw bytes).
    """
    ensure_toolkit_importable()
    os.environ.setdefault("SAGEMAKER_PROGRAM", "inference.py")
    os.environ["MMS_DECODE_INPUT_REQUEST"] = "false"
    from mms.model_loader import ModelLoaderFactory

    loader = ModelLoaderFactory.get_model_loader(str(model_dir))
    return loader.load(MODEL_NAME, str(model_dir), HANDLER_SERVICE, gpu_id, 1)


class _Conn:
    """The socket interface MMS's frame decoder reads from, over a bytes buffer."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def recv(self, n: int) -> bytes:
        return self._buf.read(n)


def _field(value: bytes) -> bytes:
    return struct.pack("!i", len(value)) + value


def encode_request_frame(request_id: str, body: bytes, headers: dict[str, str], content_type: str) -> bytes:
    """One request of an MMS predict frame: id, headers, then the body as the parameter named "body"."""
    frame = _field(request_id.encode())
    for name, value in headers.items():
        frame += _field(name.encode()) + _field(value.encode())
    frame += struct.pack("!i", -1)
    frame += _field(b"body") + _field(content_type.encode()) + _field(body)
    frame += struct.pack("!i", -1)
    return frame + struct.pack("!i", -1)  # end of batch


def decode_reply(frame: bytes) -> Reply:
    """Parse `create_predict_response` output for a single request."""
    conn = _Conn(frame)

    def read_int() -> int:
        return struct.unpack("!i", conn.recv(4))[0]

    def read_bytes() -> bytes:
        return conn.recv(read_int())

    code = read_int()
    message = read_bytes().decode()
    read_bytes()  # request id
    content_type = read_bytes().decode()
    status = read_int()
    read_bytes()  # reason phrase
    for _ in range(read_int()):  # response headers
        read_bytes()
        read_bytes()
    body = read_bytes()
    # Errors carry the status in the frame's code and no per-request status phrase.
    return Reply(status=status if code == 200 else code, message=message, content_type=content_type, body=body)


def invoke(
    service: Any,
    body: bytes,
    *,
    content_type: str | None = "application/json",
    accept: str | None = None,
    request_id: str = "req-1",
) -> Reply:
    """Send one request through MMS's frame decoder and `Service.predict`, as an InvokeEndpoint call would."""
    from mms.protocol.otf_message_handler import _retrieve_inference_msg

    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    frame = encode_request_frame(request_id, body, headers, content_type or "")
    batch = _retrieve_inference_msg(_Conn(frame))
    return decode_reply(bytes(service.predict(batch)))
