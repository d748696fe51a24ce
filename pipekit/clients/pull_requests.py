"""Pull requests on the GitOps repository's host, behind one small interface.

One module per flavour: :mod:`pipekit.clients.bitbucket_cloud` (REST 2.0) and
:mod:`pipekit.clients.bitbucket_dc` (Data Center REST 1.0). Both send the token as Bearer, or
as Basic with a username (``PIPEKIT_GITOPS_USERNAME``), through :mod:`pipekit.core.http` (the
shared retry policy and total time); the token, and the Basic credentials in every form they
travel in, are registered for masking before any request.

Errors: rejected credentials are :class:`~pipekit.core.errors.BadInput` (exit 2) naming the
variables; a repository the token cannot see, or any other refusal, is
:class:`~pipekit.core.errors.ExternalError` (exit 3) naming the HTTP status and the repository;
:class:`UnknownReviewers` (exit 2) names the reviewers the server does not know;
:class:`MergeRefused` says why a merge was not made (conflict, merge check, stale version).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipekit.core.errors import BadInput, CheckFailed, ExternalError

TOKEN_ENV, USERNAME_ENV = "PIPEKIT_GITOPS_TOKEN", "PIPEKIT_GITOPS_USERNAME"
STRATEGIES = ("merge", "squash", "fast-forward")  # pipekit.yaml's names; each flavour maps them


@dataclass
class PullRequest:
    id: int
    url: str  # the web page
    state: str  # OPEN | MERGED | DECLINED
    source: str  # branch names
    target: str
    title: str = ""
    author: str = ""  # Cloud: account id; Data Center: user slug
    version: int | None = None  # Data Center's optimistic-locking version
    merge_commit: str | None = None  # as the server says it (Cloud: 12 characters)
    closed_by: str | None = None  # Cloud: who declined or merged it


class UnknownReviewers(BadInput):
    def __init__(self, names: Sequence[str], repository: str, detail: str = "") -> None:
        super().__init__(
            f"Bitbucket does not know the reviewer(s) {', '.join(names)} of {repository}"
            + (f" ({detail})" if detail else ""),
            hint="check environments.<env>.pull_request.reviewers (Cloud: account ids or {uuid}; "
            "Data Center: user slugs)",
        )
        self.names = list(names)


class MergeRefused(CheckFailed):
    """``kind``: conflict (or the branch is behind), vetoed (a merge check), stale (Data Center's
    version), not-open, or other."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class PullRequestHost(Protocol):
    flavour: str
    repository: str  # owner/slug, for messages

    def open_pull_requests(self, target: str) -> list[PullRequest]: ...

    def create(
        self,
        *,
        title: str,
        description: str,
        source: str,
        target: str,
        reviewers: Sequence[str],
        close_source_branch: bool,
    ) -> PullRequest: ...

    def get(self, pr_id: int) -> PullRequest: ...

    def approvers(self, pr: PullRequest) -> list[str]: ...

    def comment(self, pr: PullRequest, text: str) -> None: ...

    def decline(self, pr: PullRequest, comment: str) -> PullRequest: ...

    def declined_by(self, pr: PullRequest) -> str: ...

    def merge(
        self, pr: PullRequest, *, strategy: str, message: str, close_source_branch: bool
    ) -> PullRequest: ...


class Api:
    """The HTTP part both flavours share: authentication, masking, the retrying session, errors."""

    flavour = ""

    def __init__(
        self,
        base_url: str,
        repository: str,
        *,
        token: str,
        username: str | None = None,
        timeout_s: float = 30.0,
        total_s: float = 120.0,
    ) -> None:
        from pipekit.core import http, masking

        if not token:
            raise BadInput(
                f"pull requests need credentials: set {TOKEN_ENV} (a repository, workspace or HTTP "
                f"access token), and {USERNAME_ENV} where the server wants Basic authentication"
            )
        masking.header_value(token, TOKEN_ENV)
        self.base_url, self.repository = base_url.rstrip("/"), repository
        self.session = http.session(attempts=4, total_timeout=total_s, timeout=(5.0, timeout_s))
        self.session.trust_env = False  # no proxy from the build image's variables on the way to the API
        if username:
            basic = base64.b64encode(f"{username}:{token}".encode()).decode()
            masking.add_secret(basic)
            self.session.headers["Authorization"] = f"Basic {basic}"
        else:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def message(self, body: Any) -> str:  # each flavour reads its own error body
        raise NotImplementedError

    def call(
        self,
        method: str,
        url: str,
        *,
        ok: Sequence[int] = (200, 201, 204),
        judge: Callable[[int, Any], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The JSON answer of a request that must succeed; ``judge(status, body)`` may raise first."""
        from pipekit.core.masking import mask

        response = self.session.request(method, url, **kwargs)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code in ok:
            return body
        if judge is not None:
            judge(response.status_code, body)
        status, said = response.status_code, mask(self.message(body) or response.text[:200].strip())
        if status == 401:
            raise BadInput(
                f"Bitbucket refused the credentials for {self.repository} (HTTP 401: {said})",
                hint=f"check {TOKEN_ENV} (and {USERNAME_ENV} for Basic authentication)",
            )
        hint = (
            "check the repository's name and that the token can see it (its repository, project or workspace)"
            if status in (403, 404)
            else None
        )
        raise ExternalError(
            f"Bitbucket answered HTTP {status} for repository {self.repository}: {said}", hint=hint
        )
