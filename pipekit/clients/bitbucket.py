"""Bitbucket Cloud Code Insights: a commit report and its annotations.

Inside Bitbucket Pipelines requests go through the pipeline's authenticating proxy
(``http://localhost:29418``, plain ``http://api.bitbucket.org``, no credentials). Elsewhere a token
from ``PIPEKIT_BITBUCKET_TOKEN`` is sent as a bearer header to ``https://api.bitbucket.org``.
``PIPEKIT_BITBUCKET_API_URL`` / ``PIPEKIT_BITBUCKET_PROXY`` override both (tests, Bitbucket mirrors).

API: ``PUT /2.0/repositories/{workspace}/{repo}/commit/{commit}/reports/{reportId}`` and
``POST .../reports/{reportId}/annotations`` (at most 100 a request, 1,000 a report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipekit.core.errors import BadInput, ExternalError

PROXY = "http://localhost:29418"
API_VIA_PROXY = "http://api.bitbucket.org"
API = "https://api.bitbucket.org"
MAX_PER_REQUEST = 100
MAX_PER_REPORT = 1000


@dataclass
class CodeInsights:
    workspace: str
    repo: str
    commit: str
    base_url: str = API_VIA_PROXY
    proxy: str | None = PROXY
    token: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, workspace: str | None, repo: str | None, commit: str | None
    ) -> CodeInsights:
        missing = [
            n
            for n, v in (
                ("BITBUCKET_WORKSPACE", workspace),
                ("BITBUCKET_REPO_SLUG", repo),
                ("BITBUCKET_COMMIT", commit),
            )
            if not v
        ]
        if missing:
            raise BadInput(f"--code-insights needs {', '.join(missing)} (set by Bitbucket Pipelines)")
        token = env.get("PIPEKIT_BITBUCKET_TOKEN") or None
        if token:
            from pipekit.core import masking

            masking.header_value(token, "PIPEKIT_BITBUCKET_TOKEN")
        base = env.get("PIPEKIT_BITBUCKET_API_URL") or (API if token else API_VIA_PROXY)
        proxy = env.get("PIPEKIT_BITBUCKET_PROXY")
        if proxy is None:
            proxy = None if (token or env.get("PIPEKIT_BITBUCKET_API_URL")) else PROXY
        return cls(str(workspace), str(repo), str(commit), base.rstrip("/"), proxy or None, token)

    def _report_url(self, report_id: str) -> str:
        def q(s: str) -> str:  # a workspace may be a {uuid}
            return quote(s, safe="{}")

        return (
            f"{self.base_url}/2.0/repositories/{q(self.workspace)}/{q(self.repo)}/commit/{q(self.commit)}"
            f"/reports/{quote(report_id, safe='')}"
        )

    def _session(self) -> Any:
        from pipekit.core import http

        s = http.session(attempts=3, total_timeout=self.timeout_s * 2, timeout=(5.0, self.timeout_s))
        s.trust_env = False  # the proxy is chosen here, not by HTTP(S)_PROXY of the build image
        if self.proxy:
            s.proxies = {"http": self.proxy, "https": self.proxy}
        if self.token:
            s.headers["Authorization"] = f"Bearer {self.token}"
        s.headers["Accept"] = "application/json"
        return s

    def publish(self, report_id: str, report: dict[str, Any], annotations: Sequence[dict[str, Any]]) -> int:
        """Create or replace the report, then upload annotations in batches; returns how many were sent."""
        try:
            return self._publish(report_id, report, annotations)
        except ExternalError as exc:
            if self.proxy and not self.token and exc.hint and "reachable" in exc.hint:
                exc.hint = (
                    f"the Pipelines proxy {self.proxy} only exists inside Bitbucket Pipelines; "
                    "elsewhere set PIPEKIT_BITBUCKET_TOKEN"
                )
            raise

    def _publish(self, report_id: str, report: dict[str, Any], annotations: Sequence[dict[str, Any]]) -> int:
        url = self._report_url(report_id)
        with self._session() as s:
            self._check(s.put(url, json=report), "PUT", url)
            sent = 0
            batch_list = list(annotations[:MAX_PER_REPORT])
            for start in range(0, len(batch_list), MAX_PER_REQUEST):
                batch = batch_list[start : start + MAX_PER_REQUEST]
                self._check(s.post(f"{url}/annotations", json=batch), "POST", f"{url}/annotations")
                sent += len(batch)
        return sent

    @staticmethod
    def _check(response: Any, verb: str, url: str) -> None:
        from pipekit.core.masking import mask_url

        if response.status_code >= 400:
            detail = response.text[:200].replace("\n", " ")
            hint = (
                "inside Pipelines use the proxy (no token); elsewhere set PIPEKIT_BITBUCKET_TOKEN"
                if response.status_code in (401, 403)
                else None
            )
            raise ExternalError(
                f"Code Insights {verb} {mask_url(url)}: HTTP {response.status_code} {detail}", hint=hint
            )


@dataclass
class PipelinesSettings:
    """A repository's Pipelines settings, read-only: which variables exist where (never their values).

    ``GET /2.0/repositories/{workspace}/{repo}/pipelines_config/variables``, ``.../environments``,
    ``.../deployments_config/environments/{uuid}/variables``, ``.../pipelines_config/ssh/key_pair``
    and ``/2.0/workspaces/{workspace}/pipelines-config/variables``, each page followed by ``next``.
    A token from ``PIPEKIT_BITBUCKET_TOKEN`` (a repository or workspace access token with the
    Pipelines read scope) goes as a bearer header to ``https://api.bitbucket.org``
    (``PIPEKIT_BITBUCKET_API_URL`` overrides it).
    """

    workspace: str
    repo: str
    base_url: str = API
    token: str | None = None
    timeout_s: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], workspace: str, repo: str) -> PipelinesSettings:
        token = env.get("PIPEKIT_BITBUCKET_TOKEN") or None
        if token:
            from pipekit.core import masking

            masking.header_value(token, "PIPEKIT_BITBUCKET_TOKEN")
        return cls(workspace, repo, (env.get("PIPEKIT_BITBUCKET_API_URL") or API).rstrip("/"), token)

    def read(self) -> RepositorySettings:
        def q(s: str) -> str:  # a workspace or repository may be a {uuid}
            return quote(s, safe="{}")

        repo = f"{self.base_url}/2.0/repositories/{q(self.workspace)}/{q(self.repo)}"
        with self._session() as s:
            found = RepositorySettings(
                repository={
                    v["key"] for v in self._pages(s, f"{repo}/pipelines_config/variables") if "key" in v
                },
                workspace={
                    v["key"]
                    for v in self._pages(
                        s, f"{self.base_url}/2.0/workspaces/{q(self.workspace)}/pipelines-config/variables"
                    )
                    if "key" in v
                },
            )
            for env in self._pages(s, f"{repo}/environments"):
                uuid = str(env.get("uuid") or "")
                found.environments[str(env.get("name") or env.get("slug"))] = {
                    v["key"]
                    for v in self._pages(s, f"{repo}/deployments_config/environments/{q(uuid)}/variables")
                    if "key" in v
                }
            answer = s.get(f"{repo}/pipelines_config/ssh/key_pair")
            if answer.status_code not in (200, 404):
                self._check(answer, f"{repo}/pipelines_config/ssh/key_pair")
            found.ssh_key = answer.status_code == 200
        return found

    def _session(self) -> Any:
        from pipekit.core import http

        s = http.session(attempts=3, total_timeout=self.timeout_s * 2, timeout=(5.0, self.timeout_s))
        s.trust_env = False
        if self.token:
            s.headers["Authorization"] = f"Bearer {self.token}"
        s.headers["Accept"] = "application/json"
        return s

    def _pages(self, s: Any, url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        next_url: str | None = url
        for _ in range(50):  # 50 pages of (by default) 10: more than any repository's settings
            if not next_url:
                break
            answer = s.get(next_url)
            self._check(answer, next_url)
            page = answer.json()
            out += [v for v in page.get("values") or [] if isinstance(v, dict)]
            next_url = page.get("next")
        return out

    @staticmethod
    def _check(response: Any, url: str) -> None:
        from pipekit.core.masking import mask_url

        if response.status_code >= 400:
            hint = (
                "PIPEKIT_BITBUCKET_TOKEN needs read access to the repository's Pipelines settings"
                if response.status_code in (401, 403)
                else None
            )
            raise ExternalError(f"Bitbucket GET {mask_url(url)}: HTTP {response.status_code}", hint=hint)


@dataclass
class RepositorySettings:
    """The variable names a repository's pipelines see: its own, its workspace's,
    and per deployment environment."""

    repository: set[str] = field(default_factory=set)
    workspace: set[str] = field(default_factory=set)
    environments: dict[str, set[str]] = field(default_factory=dict)  # deployment environment -> its variables
    ssh_key: bool = False  # an SSH key pair is configured for the repository's pipelines
