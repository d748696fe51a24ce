"""A Docker-compatible daemon for one CI step: Debian's podman serving the Docker API on a socket.

``podman --root R/root --runroot R/run --storage-driver vfs system service --time 0 unix://R/docker.sock``
with a fresh ``R`` gives the step its own empty image store, as Bitbucket's ``docker`` service
does. ``R`` is kept short (podman refuses a run root path longer than about 50 characters). The
service is stopped by its PID and ``R`` removed, whatever happens. Like Docker's daemon, which
treats registries on loopback addresses as insecure (plain HTTP) by default, the service is given
a ``registries.conf`` saying so for ``127.0.0.1`` and ``localhost``; podman's default does not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import ExternalError

START_TIMEOUT_S = 20.0
# Docker's default: a registry on a loopback address may speak plain HTTP (--insecure-registry 127.0.0.0/8)
REGISTRIES_CONF = """unqualified-search-registries = ["docker.io"]

[[registry]]
location = "127.0.0.1"
insecure = true

[[registry]]
location = "localhost"
insecure = true
"""


class DockerService:
    def __init__(self, executable: str = "podman") -> None:
        self.executable = executable
        self.root: Path | None = None
        self.proc: subprocess.Popen[str] | None = None

    @property
    def socket_dir(self) -> Path:
        """The folder holding only the socket (mount this folder: a socket file alone cannot be mounted)."""
        assert self.root is not None
        return self.root / "sock"

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pkd", dir="/tmp"))
        self.socket_dir.mkdir()
        argv = [
            self.executable,
            "--root",
            str(self.root / "root"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "vfs",
            "system",
            "service",
            "--time",
            "0",
            self.docker_host,
        ]
        conf = self.root / "registries.conf"
        conf.write_text(REGISTRIES_CONF, encoding="utf-8")
        (self.root / "tmp").mkdir()  # podman leaves digest.txt* files of its pushes in TMPDIR: they go with R
        log = (self.root / "service.log").open("w", encoding="utf-8")
        try:
            env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf), "TMPDIR": str(self.root / "tmp")}
            self.proc = process.start(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (
                    (self.root / "service.log").read_text(encoding="utf-8", errors="replace").strip()[-300:]
                )
                self.stop()
                raise ExternalError(f"podman's Docker API service did not start: {tail or 'no output'}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(1.0)
                conn.connect(str(self.socket_path))
                conn.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b" 200 " in conn.recv(64)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
