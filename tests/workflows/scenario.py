"""What the workflow scenarios look at besides the fake GitHub: the emulator's endpoint, the state bucket's lock
files, whether terraform is running, and the emulator's hold control (to make one AWS call fail)."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.infra import aws

from .conftest import World

HOLD_PATH = "/moto-api/hubdeploy/hold"  # hubdeploy.infra.emulator.holds


def hold(world: World, target: str | None, seconds: float = 1.0) -> None:
    """Make the emulator answer `target` (e.g. SageMaker.DeleteEndpointConfig) with an error after `seconds`."""
    body = json.dumps({"target": target, "seconds": seconds} if target else {}).encode()
    request = urllib.request.Request(world.emulator.endpoint_url + HOLD_PATH, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def terraform_running() -> bool:
    found = subprocess.run(["pgrep", "-f", "terraform plan"], capture_output=True, check=False)
    return found.returncode == 0


def endpoint_config(world: World, env: str = "dev") -> str:
    described = aws.client("sagemaker", world.settings()).describe_endpoint(EndpointName=f"hubdeploy-{env}")
    return str(described["EndpointConfigName"])


def endpoint_configs(world: World) -> dict[str, str]:
    """Each env's endpoint configuration, for the envs that have an endpoint."""
    sagemaker = aws.client("sagemaker", world.settings())
    names = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    return {env: endpoint_config(world, env) for env in ENVIRONMENTS if f"hubdeploy-{env}" in names}


def lock_files(world: World) -> list[str]:
    return [key for key in world.s3_keys(world.state_bucket) if key.endswith(".tflock")]
