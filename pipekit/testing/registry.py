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
import tempfile
from pathlib import Path

from pipekit.core.process import install_hint
from pipekit.testing.serving import ChildServer, free_port


class LocalRegistry(ChildServer):
    """``docker-registry serve`` on 127.0.0.1 with a temp root; started on enter, stopped on exit."""

    def __init__(
        self,
        *,
        port: int | None = None,
        root: str | os.PathLike[str] | None = None,
        executable: str = "docker-registry",
        readonly: bool = False,
    ) -> None:
        self.port = port or free_port()
        self._given_root = Path(root) if root else None
        self.executable = executable
        self.readonly = readonly  # refuse every write (a registry refusing uploads), reads still work
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
            raise RuntimeError(f"{self.executable} not found: install {install_hint('docker-registry')}")
        self._tmp = tempfile.mkdtemp(prefix="pipekit-registry-")
        root = self._root()
        root.mkdir(parents=True, exist_ok=True)
        config = Path(self._tmp) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"    readonly:\n      enabled: {'true' if self.readonly else 'false'}\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            "health:\n  storagedriver:\n    enabled: false\n",
            encoding="utf-8",
        )
        self.launch(
            [exe, "serve", str(config)],
            log=Path(self._tmp) / "registry.log",
            ready_url=f"{self.url}/v2/",
            timeout=timeout,
        )
        return self

    def reset(self) -> None:
        """No repositories (the blobs stay: content-addressed, invisible without a repository)."""
        shutil.rmtree(self._root() / "docker" / "registry" / "v2" / "repositories", ignore_errors=True)

    def _root(self) -> Path:
        assert self._tmp is not None, "the registry is not running"
        return self._given_root or Path(self._tmp) / "root"

    def stop(self) -> None:
        self.halt()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- reading what was pushed ---------------------------------------------------
    def manifest(self, repository: str, reference: str) -> tuple[str, str] | None:
        """(manifest text, Docker-Content-Digest) or None when the tag is absent."""
        from pipekit.clients.ecr import ManifestNotFound, read_manifest

        try:
            text, _media, digest = read_manifest(
                self.host, repository, reference, auth=None, plain_http=True, insecure=False
            )
        except ManifestNotFound:
            return None
        return text, digest

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
        print(
            f"registry at {reg.url} (push with --tls-verify=false; pipekit: --registry-override {reg.host})",
            flush=True,
        )
        serve_until_interrupted()


if __name__ == "__main__":
    main()
