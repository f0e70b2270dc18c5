"""Run moto's server in this process, gap shims and strict rules applied, bound to 127.0.0.1.

`python -m hubdeploy.infra.emulator.server --port 0 --ready-file F` writes the bound URL to F once it
accepts connections, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"


def configure_moto() -> None:
    """Settings our stack needs: AWS-managed IAM policies, Lambda without Docker (none runs here)."""
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.core.config import default_user_config

    default_user_config["lambda"]["use_docker"] = False
    default_user_config["iam"]["load_aws_managed_policies"] = True


def serve(port: int, ready_file: Path | None) -> None:
    """Start the server, announce its URL, block until told to stop."""
    configure_moto()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from hubdeploy.infra.emulator import holds, rules, shims

    shims.apply_all()  # close moto's gaps against the provider
    rules.apply_all()  # refuse what AWS refuses
    holds.install()  # the tests' control to keep one operation in flight (holds.py)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    if ready_file:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(url)
        tmp.replace(ready_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", type=Path, help="write the bound URL here once serving")
    args = parser.parse_args()
    serve(args.port, args.ready_file)


if __name__ == "__main__":
    main()
