"""model/code/inference.py served in-process by the real sagemaker-huggingface-inference-toolkit + MMS worker,
through `hubdeploy.local.toolkit.ToolkitModel`, the host the local stack's runtime uses.

The same test file runs under the Hugging Face container's transformers 4.x in test_dlc_versions.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from hubdeploy.errors import ModelLoadError
from hubdeploy.local.toolkit import ToolkitModel, ensure_toolkit_importable

pytestmark = pytest.mark.model

BODY = json.dumps({"inputs": ["Net sales rose 12% to EUR 1.2bn.", "The outlook was cut."]}).encode()


@pytest.fixture(scope="module")
def model(model_package_dir: Path) -> Iterator[ToolkitModel]:
    """The artifact as one container worker holds it: an MMS `Service` wrapping the toolkit's handler service."""
    with ToolkitModel(model_package_dir, environment={}) as served:
        yield served


@pytest.fixture(scope="module")
def inference(model: ToolkitModel, model_package_dir: Path) -> ModuleType:
    """The artifact's code/inference.py as the toolkit imported it (the host then drops it from sys.modules)."""
    assert model.user_module is not None
    assert Path(model.user_module.__file__ or "") == model_package_dir / "code" / "inference.py"
    return model.user_module


@pytest.fixture(scope="module")
def classifier(inference: ModuleType, model_package_dir: Path) -> object:
    """That module's `model_fn` output for the tiny model with default settings."""
    return inference.model_fn(str(model_package_dir))


def artifact_with(model_package_dir: Path, tmp_path: Path, extra_code: str) -> Path:
    """A copy of the artifact whose inference.py ends with `extra_code` (redefinitions win)."""
    root = tmp_path / "artifact"
    shutil.copytree(model_package_dir, root)
    script = root / "code" / "inference.py"
    script.write_text(script.read_text() + "\n\n" + extra_code)
    return root


def test_toolkit_uses_our_functions_not_its_pipeline(model, inference):
    handler = model.service._entry_point.__self__
    assert handler.initialized
    assert handler.preprocess is inference.input_fn
    assert handler.predict is inference.predict_fn
    assert handler.postprocess is inference.output_fn
    assert isinstance(handler.model, inference.Classifier)


def test_invocation_returns_json_per_input(model, inference, classifier):
    reply = model.invoke(BODY, content_type="application/json")

    assert reply.status == 200
    assert reply.content_type == "application/json"
    expected = inference.predict_fn(json.loads(BODY), classifier)
    got = reply.json()
    assert [e["label"] for e in got] == [e["label"] for e in expected]
    assert [e["score"] for e in got] == pytest.approx([e["score"] for e in expected], abs=1e-6)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_content_type_parameters_and_accept_variants(model, content_type, accept):
    reply = model.invoke(BODY, content_type=content_type, accept=accept)

    assert reply.status == 200, reply.message
    assert len(reply.json()) == 2


def test_all_scores_through_the_toolkit(model):
    body = json.dumps({"inputs": "Profit fell.", "parameters": {"return_all_scores": True}}).encode()

    entry = model.invoke(body).json()[0]

    assert {s["label"] for s in entry["scores"]} == {"Neutral", "Positive", "Negative"}


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "message"),
    [
        (b"{oops", "application/json", None, "request body is not valid JSON"),
        (b'{"inputs": []}', "application/json", None, '"inputs" is an empty list'),
        (b'{"inputs": ""}', "application/json", None, '"inputs" is empty'),
        (b'{"inputs": [1]}', "application/json", None, '"inputs"[0] must be a string'),
        (json.dumps({"inputs": ["t"] * 129}).encode(), "application/json", None, "129 texts in one request"),
        (b"\xff\xfe\x00", "application/json; charset=utf-8", None, "not valid UTF-8"),
        # Exact application/json is decoded by the toolkit itself before our code runs: its message.
        (b"\xff\xfe\x00", "application/json", None, "utf-8"),
        (b'{"inputs": "x"}', "text/plain", None, "content type 'text/plain' is not supported"),
        (b'{"inputs": "x"}', "application/json", "text/csv", "Accept 'text/csv' cannot be served"),
    ],
)
def test_bad_requests_get_http_400_with_the_reason_and_the_worker_keeps_serving(
    model, body, content_type, accept, message
):
    reply = model.invoke(body, content_type=content_type, accept=accept)

    assert reply.status == 400
    assert message in reply.message
    assert "Traceback" not in reply.message
    assert model.invoke(BODY).status == 200


def test_handle_called_directly_with_a_model_server_context(model_package_dir, inference):
    """The brief's handler-level contract: initialize(context), then handle(data, context)."""
    ensure_toolkit_importable()
    from mms.context import Context, RequestProcessor
    from mms.metrics.metrics_store import MetricsStore
    from mms.service import PredictionException
    from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

    context = Context("model", str(model_package_dir), None, 1, None, "1.1.11")
    context.metrics = MetricsStore({0: "req-1"}, "model")
    handler = HuggingFaceHandlerService()
    handler.initialize(context)

    context.request_processor = [RequestProcessor({"Content-Type": "application/json", "Accept": "application/json"})]
    response = handler.handle([{"body": BODY}], context)

    assert len(json.loads(response[0])) == 2
    assert context.get_response_content_type(0) == "application/json"

    with pytest.raises(PredictionException) as raised:
        handler.handle([{"body": b'{"inputs": {}}'}], context)
    assert raised.value.error_code == 400
    assert '"inputs" must be a string or a list of strings, got an object' in raised.value.message


def test_each_artifact_is_served_by_its_own_inference_py_and_none_is_left_behind(model_package_dir, tmp_path):
    # given an artifact whose inference.py answers differently from the repo's
    other = artifact_with(model_package_dir, tmp_path, "def output_fn(prediction, accept):\n    return '\"other\"'\n")
    # when it is loaded after the repo's artifact
    first = ToolkitModel(model_package_dir, environment={})
    second = ToolkitModel(other, environment={})
    # then each answers with its own code, and nothing named `inference` is left for the next importer
    assert len(first.invoke(BODY).json()) == 2
    assert second.invoke(BODY).json() == "other"
    assert "inference" not in sys.modules
    assert str(other / "code") not in sys.path


def test_a_model_that_cannot_initialise_is_a_model_load_error_with_the_reason(model_package_dir, tmp_path):
    broken = artifact_with(
        model_package_dir,
        tmp_path,
        "def model_fn(model_dir, context=None):\n    raise RuntimeError('weights do not match the config')\n",
    )

    with pytest.raises(ModelLoadError, match="RuntimeError: weights do not match the config"):
        ToolkitModel(broken, environment={})
    assert "inference" not in sys.modules


def test_an_artifact_without_its_program_is_a_model_load_error(model_package_dir, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")  # restored afterwards: the host sets it process-wide

    with pytest.raises(ModelLoadError, match=r"code/serve\.py is missing from the artifact"):
        ToolkitModel(model_package_dir, environment={"SAGEMAKER_PROGRAM": "serve.py"})


def test_int8_precision_loads_through_the_toolkit_and_answers_like_fp32_in_shape(model, model_package_dir, monkeypatch):
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")  # restored afterwards: the host sets it process-wide
    # given the artifact served with the container environment HUBDEPLOY_PRECISION=int8
    int8 = ToolkitModel(model_package_dir, environment={"HUBDEPLOY_PRECISION": "int8"})
    handler = int8.service._entry_point.__self__
    # then the worker's classifier is quantized, and its answers have the fp32 answers' shape
    assert handler.model.settings.precision == "int8"
    assert "DynamicQuantizedLinear" in repr(handler.model.model)
    body = json.dumps({"inputs": ["Profit rose.", "Sales fell.", "Flat."], "parameters": {"top_k": 2}}).encode()
    reply, reference = int8.invoke(body), model.invoke(body)
    assert reply.status == reference.status == 200
    assert [sorted(e) for e in reply.json()] == [sorted(e) for e in reference.json()]
    assert [len(e["scores"]) for e in reply.json()] == [2, 2, 2]


def test_an_unknown_precision_fails_the_load_naming_the_variable_and_the_choices(model_package_dir, monkeypatch):
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")  # restored afterwards: the host sets it process-wide
    with pytest.raises(ModelLoadError, match="HUBDEPLOY_PRECISION='int4' is not one of fp32, int8"):
        ToolkitModel(model_package_dir, environment={"HUBDEPLOY_PRECISION": "int4"})


def test_closing_the_model_gives_the_process_its_own_environment_back(model_package_dir, monkeypatch):
    ToolkitModel(model_package_dir, environment={}).close()  # no model's environment is the process's now
    # given a host process with its own HUBDEPLOY_PRECISION and without SAGEMAKER_PROGRAM
    monkeypatch.setenv("HUBDEPLOY_PRECISION", "fp32")
    monkeypatch.delenv("SAGEMAKER_PROGRAM", raising=False)
    # when a model with another container environment serves and is closed
    with ToolkitModel(model_package_dir, environment={"HUBDEPLOY_PRECISION": "int8"}) as int8:
        assert os.environ["HUBDEPLOY_PRECISION"] == "int8", "the container environment is the process's meanwhile"
        assert int8.invoke(b'{"inputs": "Profit rose."}').status == 200
    # then what the container environment set is the host's again: nothing leaks into what runs next
    assert os.environ["HUBDEPLOY_PRECISION"] == "fp32"
    assert "SAGEMAKER_PROGRAM" not in os.environ and "MMS_DECODE_INPUT_REQUEST" not in os.environ


def test_closing_a_replaced_model_leaves_the_newer_models_environment(model_package_dir, monkeypatch):
    monkeypatch.delenv("HUBDEPLOY_PRECISION", raising=False)
    older = ToolkitModel(model_package_dir, environment={"HUBDEPLOY_PRECISION": "fp32"})
    newer = ToolkitModel(model_package_dir, environment={"HUBDEPLOY_PRECISION": "int8"})
    older.close()
    assert os.environ["HUBDEPLOY_PRECISION"] == "int8", "the newer model still serves with its environment"
    newer.close()
    assert "HUBDEPLOY_PRECISION" not in os.environ
