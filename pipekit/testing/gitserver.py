"""A git host on 127.0.0.1: bare repositories served over smart HTTP by ``git http-backend``.

Stands in for the GitOps repository's host (Bitbucket) where a pipeline step must reach it over
the network, as it would in Bitbucket: a step runs in its image with only the clone mounted, so
a path on this machine is no repository it can clone. Pushes and fetches need HTTP Basic auth
with the token (any username, as Bitbucket's ``x-token-auth`` access tokens)::

    with GitServer(root) as git:          # root/<name>.git are the repositories
        git.url("gitops")                 # http://127.0.0.1:PORT/gitops.git
        git.token                         # PIPEKIT_GITOPS_TOKEN for the steps

From a shell: ``python -m pipekit.testing.gitserver ROOT [--port N] [--token T]``.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from pathlib import Path

from pipekit.core import process
from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to


class GitServer(ServedStandIn):
    def __init__(self, root: Path, *, token: str | None = None, port: int = 0) -> None:
        self.root = Path(root)
        self.token = token or "gitops-" + secrets.token_hex(8)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._serve_on(
            handing_to(self._serve, "GET", "POST", keep_alive=False),
            "git-server",
            port=port,
            poll_interval=0.05,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}.git"

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            _user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(password, self.token)

    def _serve(self, handler: QuietHandler) -> None:
        path, _, query = handler.path.partition("?")
        if not self._authorized(handler.headers.get("Authorization")):
            self.requests.append((handler.command, path, 401))
            handler.reply(401, b"", {"WWW-Authenticate": 'Basic realm="git"'})
            return
        body = handler.read_body()
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH": "/usr/bin:/bin",
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-token-auth",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
        }
        # packs are binary: started through process (its group, stopped on signals), read as bytes
        proc = process.start(["git", "http-backend"], env=env, stdin=subprocess.PIPE, text=False)
        try:
            raw, _ = proc.communicate(body, timeout=120)
        finally:
            process.stop(proc)
        head, _, payload = raw.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.requests.append((handler.command, path, status))
        handler.reply(status, payload, headers)


def main() -> None:
    import argparse

    from pipekit.testing import serve_until_interrupted

    parser = argparse.ArgumentParser(description="Serve ROOT/<name>.git over smart HTTP on 127.0.0.1.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    with GitServer(args.root, token=args.token, port=args.port) as git:
        print(f"serving {args.root} at {git.base_url} (token {git.token}); Ctrl-C stops it", flush=True)
        serve_until_interrupted()


if __name__ == "__main__":
    main()
