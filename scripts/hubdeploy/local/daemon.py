"""The background process of `hubdeploy local up`: the runtime and API servers, until SIGTERM.

`python -m hubdeploy.local.daemon --config <state>/daemon-config.json` reads what `up` resolved
(emulator URL, endpoint name, invoke URL, auth, where lambda.zip is), starts the SageMaker runtime
server, points the Lambda's boto3 at it (`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`), starts the API, and
writes `{"pid", "runtime_url", "api_url"}` (or `{"pid", "error"}`) to the ready file named in the config.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from hubdeploy.errors import HubdeployError
from hubdeploy.fsutil import atomic_write_json

log = logging.getLogger("hubdeploy.local.daemon")


@dataclass(frozen=True)
class DaemonConfig:
    """Everything the daemon needs; written by `up` as JSON."""

    state_dir: str
    ready_file: str
    aws_endpoint_url: str
    region: str
    endpoint_name: str
    api_url: str  # the deployed stage's invoke URL
    lambda_bucket: str
    lambda_key: str
    auth_mode: str = "none"
    client_ids: tuple[str, ...] = ()
    runtime_port: int = 0
    api_port: int = 0

    def write(self, path: Path) -> None:
        atomic_write_json(path, asdict(self))

    @classmethod
    def read(cls, path: Path) -> DaemonConfig:
        data = json.loads(path.read_text())
        data["client_ids"] = tuple(data.get("client_ids") or ())
        return cls(**data)


def serve(config: DaemonConfig) -> int:
    """Start both servers, announce them, block until SIGTERM/SIGINT, stop them."""
    import boto3

    from hubdeploy.local.api import LocalApi
    from hubdeploy.local.discovery import discover_api
    from hubdeploy.local.runtime import runtime_from_env

    state = Path(config.state_dir)
    ready = Path(config.ready_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runtime = api = None
    try:
        runtime = runtime_from_env(
            cache_dir=state / "runtime-cache",
            default_endpoint=config.endpoint_name,
            region=config.region,
            endpoint_url=config.aws_endpoint_url,
        ).start(port=config.runtime_port)
        # This process plays the Lambda runtime, whose environment is the process's: the handler's boto3
        # reads the SageMaker runtime endpoint from there, as it would read AWS's in a real function.
        os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime.url
        session = boto3.session.Session(region_name=config.region)
        s3 = session.client("s3", endpoint_url=config.aws_endpoint_url)
        zip_bytes = s3.get_object(Bucket=config.lambda_bucket, Key=config.lambda_key)["Body"].read()
        api_config = discover_api(
            session=session,
            endpoint_url=config.aws_endpoint_url,
            api_url=config.api_url,
            lambda_zip=zip_bytes,
            code_root=state / "lambda-code",
            auth_mode=config.auth_mode,
            client_ids=frozenset(config.client_ids),
        )
        for note in api_config.notes:
            log.warning("%s", note)
        api = LocalApi(api_config).start(port=config.api_port)
    except HubdeployError as exc:
        atomic_write_json(ready, {"pid": os.getpid(), "error": exc.one_line()})
        _stop(runtime, api)
        return 1
    except Exception as exc:
        log.exception("daemon failed to start")
        atomic_write_json(ready, {"pid": os.getpid(), "error": f"{type(exc).__name__}: {exc}"})
        _stop(runtime, api)
        return 1
    atomic_write_json(
        ready, {"pid": os.getpid(), "runtime_url": runtime.url, "api_url": api.url, "token_url": api.token_url}
    )
    log.info("runtime on %s, API on %s", runtime.url, api.url)
    stop.wait()
    log.info("stopping")
    _stop(runtime, api)
    return 0


def _stop(*servers: object) -> None:
    for server in servers:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return serve(DaemonConfig.read(args.config))


if __name__ == "__main__":
    raise SystemExit(main())
