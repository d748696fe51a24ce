"""A local Bitbucket on 127.0.0.1 for tests and rehearsals: pull requests on Cloud's REST 2.0 and
Data Center's REST 1.0, over repositories that are real bare git repositories.

One server answers both flavours: ``/2.0/repositories/{workspace}/{repo_slug}/...`` (Cloud,
:mod:`.cloud`) and ``/rest/api/{latest|1.0}/projects/{projectKey}/repos/{repositorySlug}/...``
(Data Center, :mod:`.datacenter`). A repository is registered under its owner (workspace or
project key) and slug; pipekit pushes to its bare git directory (:attr:`Repository.path`) and
the stand-in merges there for real (:mod:`.repos`).

Credentials: every request needs a token (:meth:`BitbucketStandIn.add_token`), sent as
``Authorization: Bearer TOKEN`` or as Basic with the token as password; the token acts as its
user (the pull request's author, who approves, who declines) and may be limited to some
repositories (the others answer as a repository the token cannot see). Faults:
:meth:`BitbucketStandIn.fail_next` (429 with ``Retry-After``, 5xx). From a shell:
``python -m pipekit.testing.bitbucket`` (:mod:`.__main__`).
"""

from __future__ import annotations

import base64
import json
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipekit.clients.git import Git, isolated_env
from pipekit.testing.bitbucket.repos import Repository, Request, Site, Token
from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class BitbucketStandIn(Site, ServedStandIn):
    """``with BitbucketStandIn() as bb: repo = bb.add_repository("acme", "gitops", seed=...)``"""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str, str, int], None] | None = None,
        page_size: int | None = None,
    ) -> None:
        super().__init__(page_size)
        self.requests: list[tuple[str, str, int]] = []  # method, path with query, status answered
        self.log = log
        self._faults: deque[Fault] = deque()
        self._serve_on(
            handing_to(self._handle, "GET", "POST", "PUT", "DELETE"),
            "bitbucket-standin",
            host,
            port,
            poll_interval=0.05,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- data -------------------------------------------------------------------------
    def add_repository(
        self,
        owner: str,
        slug: str,
        path: str | Path | None = None,
        *,
        seed: Path | None = None,
        main_branch: str = "main",
        min_approvals: int = 0,
        root: Path | None = None,
    ) -> Repository:
        """Serve the bare repository at ``path`` (made, and filled from the folder ``seed``, when missing)."""
        if path is None:
            if root is None:
                raise ValueError("give the bare repository's path, or a root folder to make it in")
            path = Path(root) / f"{owner}-{slug}.git"
        path = Path(path)
        if not path.exists():
            make_bare(path, seed, main_branch)
        repo = Repository(owner, slug, path, main_branch=main_branch, min_approvals=min_approvals)
        self.repositories[(owner, slug)] = repo
        return repo

    def pipeline_settings(
        self, repo: Repository, token: str, *, flavour: str = "cloud"
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """(the variables, the ``pipekit.yaml`` mapping) a pipeline needs to promote by pull request on
        ``repo`` through this stand-in as ``flavour`` (cloud or datacenter);
        ``token`` must be one of :attr:`tokens`."""
        owner = "workspace" if flavour == "cloud" else "project"
        url = "PIPEKIT_BITBUCKET_API_URL" if flavour == "cloud" else "PIPEKIT_BITBUCKET_SERVER_URL"
        return (
            {"PIPEKIT_GITOPS_TOKEN": token, url: self.base_url},
            {
                "gitops": {
                    "repo": str(repo.path),
                    "pull_request": {owner: repo.owner, "repository": repo.slug},
                }
            },
        )

    def fail_next(self, status: int = 503, *, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self._faults.extend(
                Fault(status, {"Retry-After": retry_after} if retry_after else {}) for _ in range(times)
            )

    # -- serving ----------------------------------------------------------------
    def _handle(self, h: QuietHandler) -> None:
        import pipekit.testing.bitbucket.cloud as cloud
        import pipekit.testing.bitbucket.datacenter as datacenter

        raw = h.read_body()
        split = urlsplit(h.path)
        with self.lock:
            fault = self._faults.popleft() if self._faults else None
        headers: dict[str, str] = {}
        flavour = cloud if split.path.startswith("/2.0/") else datacenter
        if fault is not None:
            status, body, headers = (
                fault.status,
                flavour.error(f"stand-in fault {fault.status}"),
                fault.headers,
            )
        else:
            status, body = self._dispatch(flavour, h, split.path, split.query, raw)
        with self.lock:
            self.requests.append((h.command, h.path, status))
        if self.log:
            self.log(h.command, split.path, status)
        data = b"" if body is None else json.dumps(body).encode()
        h.reply(status, data, {**headers, "Content-Type": "application/json;charset=UTF-8"})

    def _dispatch(self, flavour: Any, h: QuietHandler, path: str, query: str, raw: bytes) -> tuple[int, Any]:
        user = self._user(h.headers.get("Authorization") or "")
        if user is None:
            return 401, flavour.unauthorized()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return 400, flavour.error("The request body is not valid JSON.")
        request = Request(h.command, path, parse_qs(query), body, user.user, self.base_url)
        try:
            answer: tuple[int, Any] = flavour.route(self, request, user)
            return answer
        except Exception as exc:  # noqa: BLE001 - a stand-in answers 500 rather than hanging the client
            return 500, flavour.error(f"stand-in error: {type(exc).__name__}: {exc}")

    def _user(self, header: str) -> Token | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.tokens.get(value.strip())
        if scheme.lower() == "basic":
            try:
                name, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except ValueError:
                return None
            token = self.tokens.get(secret)
            if token is not None and name in (token.user.name, "x-token-auth"):
                return token
        return None


def make_bare(path: Path, seed: Path | None, branch: str) -> None:
    """A bare repository at ``path``, its ``branch`` holding the files of ``seed`` (or one README)."""
    import shutil
    import tempfile

    env = {
        **isolated_env(os.environ),
        "GIT_AUTHOR_NAME": "seed",
        "GIT_AUTHOR_EMAIL": "seed@example.com",
        "GIT_COMMITTER_NAME": "seed",
        "GIT_COMMITTER_EMAIL": "seed@example.com",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    Git(path.parent, env).run("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path))
    work = Path(tempfile.mkdtemp(prefix="bitbucket-seed-"))
    try:
        if seed is not None:
            shutil.copytree(seed, work, dirs_exist_ok=True)
        else:
            (work / "README.md").write_text("GitOps repository\n", encoding="utf-8")
        git = Git(work, env)
        git.run("init", "--quiet", f"--initial-branch={branch}")
        git.run("add", "-A")
        git.run("commit", "--quiet", "-m", "seed")
        git.run("push", "--quiet", str(path), f"HEAD:refs/heads/{branch}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
