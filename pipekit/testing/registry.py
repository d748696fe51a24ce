"""A real OCI registry on 127.0.0.1: Debian's ``docker-registry`` (CNCF distribution) with its own config.

Stands in for the ECR registry host (``pipekit ecr-push --registry-override HOST:PORT``) in tests
and in a local rehearsal::

    with LocalRegistry() as reg:      # a temp filesystem root, a free port, plain HTTP, no auth
        reg.host                      # "127.0.0.1:PORT"
        reg.manifest_digest("repo", "tag")

The package's default config (port 5000, htpasswd auth) is never used. From a shell:
``python -m pipekit.testing.registry [--port N] [--root DIR]`` runs one until Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ACCEPT = ("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Poll ``url`` until it answers (any HTTP status), the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{url}: server exited with {proc.returncode}: {tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: no answer after {timeout:g} s")
        time.sleep(0.05)


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1 with a temp root; started on enter, stopped on exit."""

    def __init__(self, *, port: int | None = None, root: str | os.PathLike[str] | None = None,
                 executable: str = "docker-registry") -> None:
        self.port = port or free_port()
        self._given_root = Path(root) if root else None
        self.executable = executable
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: str | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout: float = 15.0) -> LocalRegistry:
        exe = shutil.which(self.executable)
        if not exe:
            raise RuntimeError(f"{self.executable} not found: apt-get install -y docker-registry")
        self._tmp = tempfile.mkdtemp(prefix="pipekit-registry-")
        root = self._given_root or Path(self._tmp) / "root"
        root.mkdir(parents=True, exist_ok=True)
        config = Path(self._tmp) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            "health:\n  storagedriver:\n    enabled: false\n",
            encoding="utf-8")
        log = Path(self._tmp) / "registry.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        try:
            wait_http(f"{self.url}/v2/", timeout, self.proc, log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- reading what was pushed ---------------------------------------------------
    def manifest(self, repository: str, reference: str) -> tuple[str, str] | None:
        """(manifest text, Docker-Content-Digest) or None when the tag is absent."""
        req = urllib.request.Request(f"{self.url}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback URL we built
                return resp.read().decode("utf-8"), str(resp.headers.get("Docker-Content-Digest") or "")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        found = self.manifest(repository, reference)
        return found[1] if found else None


def main() -> None:
    import argparse

    from pipekit.testing import serve_until_interrupted

    parser = argparse.ArgumentParser(description="Run docker-registry on 127.0.0.1 until Ctrl-C.")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--root", default=None, help="filesystem root (default: a temp dir, removed on exit)")
    args = parser.parse_args()
    with LocalRegistry(port=args.port, root=args.root) as reg:
        print(f"registry at {reg.url} (push with --tls-verify=false; pipekit: --registry-override {reg.host})", flush=True)
        serve_until_interrupted()


if __name__ == "__main__":
    main()
