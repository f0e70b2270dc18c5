"""The committed request-limits table: its derived limits follow from its measurement and assumptions, the
timeout chain holds, and the numbers it assumes are the ones the Lambda handler and the modules use."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

from bench import request_limits as rl

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
TABLE = rl.load_table()
ENV_TYPES = ("ml.t2.medium", "ml.m5.large", "ml.m5.xlarge")  # dev (old and new default), staging, prod
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)  # ProductionVariantServerlessConfig


def test_the_committed_derived_section_is_what_the_derivation_gives():
    assert rl.derive(TABLE) == TABLE["derived"], "stale: run `python -m bench.request_limits`"


def test_the_committed_table_passes_its_own_check(capsys):
    assert rl.main(["--check"]) == 0, capsys.readouterr().err


def test_the_table_records_where_and_when_it_was_measured():
    measured = TABLE["measurement"]
    assert set(measured["seconds_per_sequence"]) == {"1", "2"}
    assert measured["tokens_per_sequence"] == TABLE["assumptions"]["max_tokens"] == 512
    keys = ("machine", "date", "torch", "transformers", "rounds", "texts_per_request", "chars_per_text")
    for key in (*keys, "gflop_per_sequence", "effective_gflops_1_thread", "load_average_1min"):
        assert measured[key], key
    assert measured["chars_per_text"] >= max(e["limits"]["max_text_chars"] for e in TABLE["derived"].values())


@pytest.mark.parametrize("key", [*ENV_TYPES, *(f"serverless-{mb}" for mb in SERVERLESS_MEMORY_SIZES)])
def test_every_env_instance_type_and_serverless_size_is_in_the_table(key):
    assert key in TABLE["derived"]


def test_the_worst_case_of_every_entry_answers_within_the_read_timeout():
    read = TABLE["timeouts"]["sagemaker_read_timeout_seconds"]
    overhead = TABLE["assumptions"]["overhead_seconds"]
    for key, entry in TABLE["derived"].items():
        limits = entry["limits"]
        assert limits["max_texts"] * entry["seconds_per_sequence"] + overhead <= read, key
        # one more text would not fit: the limit is as large as the budget allows
        assert (limits["max_texts"] + 1) * entry["seconds_per_sequence"] + overhead > read, key


def test_the_timeout_chain_holds_strictly():
    t = TABLE["timeouts"]
    assert t["sagemaker_read_timeout_seconds"] < t["lambda_timeout_seconds"] < t["api_gateway_integration_seconds"]
    assert t["api_gateway_integration_seconds"] == 29
    assert t["invoke_endpoint_max_seconds"] == 60
    assert rl.timeout_chain_problems(TABLE) == []


def test_a_broken_chain_is_reported():
    broken = copy.deepcopy(TABLE)
    broken["timeouts"]["lambda_timeout_seconds"] = 29
    broken["derived"]["ml.m5.large"]["worst_case_seconds"] = 26
    problems = rl.timeout_chain_problems(broken)
    assert any("API Gateway" in p for p in problems) and any("ml.m5.large" in p for p in problems)


def test_the_lambda_reads_with_the_timeouts_the_table_assumes(lam_modules):
    endpoint = lam_modules
    read_timeout = endpoint.DEFAULT_READ_TIMEOUT_SECONDS
    assert read_timeout == TABLE["timeouts"]["sagemaker_read_timeout_seconds"]
    endpoint._client = None
    try:
        config = endpoint.client()._client_config
    finally:
        endpoint._client = None
    assert config.read_timeout == TABLE["timeouts"]["sagemaker_read_timeout_seconds"]
    assert config.connect_timeout == TABLE["timeouts"]["sagemaker_connect_timeout_seconds"]
    # botocore's own retries would repeat a timed-out request and break the chain
    assert config.retries["total_max_attempts"] == 1


def test_the_lambda_function_sets_no_other_read_timeout():
    module = (REPO / "terraform" / "modules" / "inference-api" / "main.tf").read_text()
    assert "ENDPOINT_TIMEOUT_SECONDS" not in module, "the table assumes the handler's default read timeout"


def test_the_inference_api_module_accepts_the_table_lambda_timeout():
    variables = (REPO / "terraform" / "modules" / "inference-api" / "variables.tf").read_text()
    block = variables[variables.index('variable "timeout_seconds"') :]
    limit = int(re.search(r"var\.timeout_seconds <= (\d+)", block).group(1))
    assert limit == TABLE["timeouts"]["api_gateway_integration_seconds"]
    assert TABLE["timeouts"]["lambda_timeout_seconds"] < limit


def test_max_text_chars_follows_the_stated_chars_per_token():
    a = TABLE["assumptions"]
    measured = TABLE["measurement"]["chars_per_token_financial_sentences"]
    assert measured < a["chars_per_token"], "typical prose at 512 tokens must fit the character limit"
    for entry in TABLE["derived"].values():
        assert entry["limits"]["max_text_chars"] == a["max_tokens"] * a["chars_per_token"]


def test_the_body_limit_fits_the_longest_json_spelling_of_the_largest_request():
    for key, entry in TABLE["derived"].items():
        limits = entry["limits"]
        texts = ["\U0001f4c8" * limits["max_text_chars"]] * limits["max_texts"]  # surrogate pairs when escaped
        body = json.dumps({"texts": texts}, ensure_ascii=True).encode()
        assert len(body) <= limits["max_body_bytes"], key
        # and well inside serverless InvokeEndpoint's 4 MB payload limit (the Lambda forwards the texts)
        assert limits["max_body_bytes"] <= 4 * 1024 * 1024, key


def test_the_layout_is_one_worker_per_physical_core():
    assert rl.layout(2, threads_per_core=2, single_worker=False) == (1, 2)  # m5.large: one core, two hyperthreads
    assert rl.layout(4, threads_per_core=2, single_worker=False) == (2, 2)  # m5.xlarge
    assert rl.layout(2, threads_per_core=1, single_worker=False) == (2, 1)  # t2.medium: two whole cores
    assert rl.layout(3, threads_per_core=1, single_worker=True) == (1, 3)  # serverless: one worker
    derived = TABLE["derived"]
    assert (derived["ml.m5.xlarge"]["workers"], derived["ml.m5.xlarge"]["threads_per_worker"]) == (2, 2)
    env = derived["ml.m5.xlarge"]["container_environment"]
    assert env["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"
    assert env["HUBDEPLOY_NUM_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"


def test_serverless_vcpus_follow_the_stated_memory_rule():
    per_vcpu = TABLE["assumptions"]["serverless_mb_per_vcpu"]
    for mb in SERVERLESS_MEMORY_SIZES:
        assert TABLE["instances"][f"serverless-{mb}"]["vcpus"] == max(1, mb // per_vcpu)


def test_the_speedup_never_exceeds_linear_nor_drops_below_one():
    assert rl.thread_speedup(1, one_thread=1.0, two_threads=0.6) == 1.0
    assert rl.thread_speedup(2, one_thread=1.0, two_threads=0.6) == pytest.approx(1 / 0.6)
    assert rl.thread_speedup(4, one_thread=1.0, two_threads=0.4) == 4.0  # capped at perfect scaling
    assert rl.thread_speedup(2, one_thread=1.0, two_threads=1.2) == 1.0  # a slower second thread gains nothing


def test_a_slower_measurement_lowers_the_limits():
    slower = copy.deepcopy(TABLE["measurement"])
    slower["cpu_seconds_per_sequence"] = {k: v * 2 for k, v in slower["cpu_seconds_per_sequence"].items()}
    updated = rl.with_measurement(TABLE, slower)
    for key, entry in updated["derived"].items():
        assert entry["limits"]["max_texts"] <= TABLE["derived"][key]["limits"]["max_texts"], key
    assert (
        updated["derived"]["ml.m5.large"]["limits"]["max_texts"]
        < TABLE["derived"]["ml.m5.large"]["limits"]["max_texts"]
    )


def test_an_instance_too_slow_for_one_text_is_refused_with_what_to_do():
    table = copy.deepcopy(TABLE)
    table["measurement"]["cpu_seconds_per_sequence"] = {"1": 20.0, "2": 20.0}
    with pytest.raises(ValueError, match=r"ml\.t2\.medium: one 512-token text takes an estimated .* choose a faster"):
        rl.derive(table)


def test_the_update_command_rewrites_the_table_from_a_measurement(tmp_path, capsys):
    table_path = tmp_path / "request-limits.json"
    table_path.write_text(rl.dumps(TABLE))
    measurement = copy.deepcopy(TABLE["measurement"])
    measurement["seconds_per_sequence"] = {"1": 0.5, "2": 0.3}
    measurement["cpu_seconds_per_sequence"] = {"1": 0.5, "2": 0.6}
    measurement_path = tmp_path / "request_size.json"
    measurement_path.write_text(json.dumps(measurement))
    assert rl.main(["--table", str(table_path), "--measurement", str(measurement_path)]) == 0
    written = json.loads(table_path.read_text())
    assert written["measurement"]["seconds_per_sequence"] == {"1": 0.5, "2": 0.3}
    assert written["derived"] == rl.derive(written)
    assert rl.main(["--check", "--table", str(table_path)]) == 0
    assert "ml.m5.large" in capsys.readouterr().out


def test_the_update_command_without_a_measurement_says_to_run_the_bench(tmp_path, capsys):
    assert rl.main(["--measurement", str(tmp_path / "missing.json"), "--table", str(rl.TABLE_PATH)]) == 1
    assert "run `make bench`" in capsys.readouterr().err


@pytest.fixture
def lam_modules(monkeypatch):
    """lambda/sagemaker_endpoint.py as the runtime imports it, with a region for its client."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("ENDPOINT_TIMEOUT_SECONDS", raising=False)
    monkeypatch.syspath_prepend(str(REPO / "lambda"))
    for name in ("sagemaker_endpoint", "apigw"):
        sys.modules.pop(name, None)
    import sagemaker_endpoint

    yield sagemaker_endpoint
    for name in ("sagemaker_endpoint", "apigw"):
        sys.modules.pop(name, None)


def test_the_root_readme_shows_the_committed_table():
    readme = (REPO / "terraform" / "root" / "README.md").read_text()
    assert rl.markdown(TABLE) in readme, (
        "paste `python -m bench.request_limits --markdown` into terraform/root/README.md"
    )
