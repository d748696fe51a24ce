"""moto in server mode on 127.0.0.1: the ECR and STS APIs over real HTTP, for tests and rehearsal.

::

    with MotoServer() as moto:
        env = moto.aws_env()      # AWS_ENDPOINT_URL, fake keys, region, IMDS off
        moto.reset()              # forget every resource (between tests)

Runs ``moto_server -H 127.0.0.1 -p PORT`` (the one installed beside this Python first, then PATH,
then ``python -m moto.server``) as a subprocess. moto has no layer-upload API and answers an
authorization token that expired in 2015: pair it with :class:`pipekit.testing.registry.LocalRegistry`
and ``--registry-override``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from pipekit.testing.serving import ChildServer, free_port

ACCOUNT = "123456789012"  # moto's default account


def _command(port: int) -> list[str]:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return [str(beside), "-H", "127.0.0.1", "-p", str(port)]
    found = shutil.which("moto_server")
    if found:
        return [found, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


class MotoServer(ChildServer):
    def __init__(self, *, port: int | None = None, region: str = "us-east-1") -> None:
        self.port = port or free_port()
        self.region = region
        self._log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def aws_env(self) -> dict[str, str]:
        """Environment for a pipekit step (or boto3) talking to this server with fake keys."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret-key",
        )

    def start(self, timeout: float = 30.0) -> MotoServer:
        fd, log = tempfile.mkstemp(prefix="pipekit-moto-", suffix=".log")
        os.close(fd)
        self._log = Path(log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.launch(
            _command(self.port),
            log=self._log,
            ready_url=f"{self.url}/moto-api/",
            timeout=timeout,
            env=env,
        )
        return self

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback URL we built
            pass

    def stop(self) -> None:
        self.halt()
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None


def main() -> None:
    import argparse

    from pipekit.testing import serve_until_interrupted

    parser = argparse.ArgumentParser(description="Run moto_server on 127.0.0.1 until Ctrl-C.")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    with MotoServer(port=args.port) as moto:
        print(f"moto at {moto.url}: export AWS_ENDPOINT_URL={moto.url} (fake keys work)", flush=True)
        serve_until_interrupted()


if __name__ == "__main__":
    main()
