"""Jira: project versions and issue search, on Jira Cloud (REST v3) and Jira Data Center (REST v2).

Credentials: ``email`` + ``token`` (basic auth: a Cloud API token, or a Data Center password), or
``pat`` (a Data Center personal access token, sent as a bearer header). A *scoped* Cloud API token
only works through the API gateway, ``https://api.atlassian.com/ex/jira/{cloudId}``: pass
``cloud_id`` and requests go there (links to issues still use the site URL).

API:
- versions: ``GET /rest/api/{3|2}/project/{key}/version?startAt=&maxResults=&query=`` (a page bean:
  ``values``, ``isLast``). ``query`` matches name and description loosely, so names are compared here.
- Cloud search: ``POST /rest/api/3/search/jql`` with ``fields`` named (the default is ids only),
  paged by ``nextPageToken`` until ``isLast``; the last page may carry no token; there is no total.
  (``/rest/api/{2,3}/search`` answers 410 Gone on Cloud since 2025.)
- Data Center search: ``POST /rest/api/2/search`` paged by ``startAt`` up to ``total``.

Retries (429, 503 and other 5xx, ``Retry-After``, else ``X-RateLimit-Reset``, within a bounded
total time) are :mod:`pipekit.core.http`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipekit.core.console import one_line
from pipekit.core.errors import BadInput, CheckFailed, ExternalError

GATEWAY = "https://api.atlassian.com"
CLOUD, DATACENTER = "cloud", "datacenter"
FIELDS = ("summary", "status", "assignee")
PAGE_SIZE = 50
MAX_PAGES = 10_000  # a guard against a server that never says it is done
MAX_PAGE_BYTES = 16 << 20  # one page of 50 issues with a few fields is some KB; more is not Jira


@dataclass(frozen=True)
class Version:
    id: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None


@dataclass(frozen=True)
class Issue:
    key: str
    summary: str
    status: str
    assignee: str | None
    url: str


class ProjectNotFound(CheckFailed):
    """The project key is unknown to Jira (or not visible to these credentials)."""


class JiraClient:
    def __init__(
        self,
        site_url: str,
        *,
        email: str | None = None,
        token: str | None = None,
        pat: str | None = None,
        cloud_id: str | None = None,
        deployment: str = CLOUD,
        gateway_url: str = GATEWAY,
        timeout: float = 30.0,
        page_size: int = PAGE_SIZE,
        attempts: int = 5,
        listing_timeout: float | None = None,
    ) -> None:
        from pipekit.core import http, masking

        if deployment not in (CLOUD, DATACENTER):
            raise BadInput(f"Jira deployment {deployment!r}: use {CLOUD} or {DATACENTER}")
        self.site_url = site_url.rstrip("/")
        self.deployment = deployment
        self.cloud_id = cloud_id or None
        self.api_url = (
            f"{gateway_url.rstrip('/')}/ex/jira/{quote(cloud_id, safe='')}" if cloud_id else self.site_url
        )
        self.version = "3" if deployment == CLOUD else "2"
        self.page_size = page_size
        # All pages of one listing (versions, a search) within one bound: a server that never says
        # it is done ends there, not after MAX_PAGES requests.
        self.listing_timeout = listing_timeout if listing_timeout is not None else max(60.0, 10 * timeout)
        self.auth_kind = "bearer" if pat else "basic"
        for secret in (token, pat):
            masking.add_secret(secret)
        self.session = http.session(
            attempts=attempts,
            total_timeout=timeout,
            timeout=(min(5.0, timeout or 5.0), max(timeout, 1.0)),
            max_backoff=30.0,
            max_body=MAX_PAGE_BYTES,
        )
        self.session.headers.update({"Accept": "application/json", "User-Agent": "pipekit-jira"})
        if pat:
            self.session.headers["Authorization"] = f"Bearer {pat}"
        elif email and token:
            self.session.auth = (email, token)

    # -- versions -------------------------------------------------------------
    def versions(self, project: str, query: str | None = None) -> Iterator[Version]:
        """Every version of ``project`` (``query`` narrows the pages loosely; compare names yourself)."""
        start = 0
        for _ in self._pages(f"versions of {project}"):
            params: dict[str, Any] = {"startAt": start, "maxResults": self.page_size}
            if query:
                params["query"] = query
            page = self._call(
                "GET", f"project/{quote(project, safe='')}/version", params=params, project=project
            )
            values = _objects(page.get("values"), "a version", f"Jira GET /project/{project}/version")
            for raw in values:
                yield Version(
                    id=str(raw.get("id", "")),
                    name=one_line(str(raw.get("name", ""))),
                    released=bool(raw.get("released")),
                    archived=bool(raw.get("archived")),
                    release_date=raw.get("releaseDate"),
                )
            start += len(values)
            if page.get("isLast", True) or not values:
                return

    def find_version(self, project: str, name: str) -> Version | None:
        """The version named exactly ``name``, or None."""
        return next((v for v in self.versions(project, query=name) if v.name == name), None)

    # -- search ---------------------------------------------------------------
    def search(self, jql: str, fields: Sequence[str] = FIELDS) -> Iterator[Issue]:
        """Every issue the JQL finds, page by page, with ``fields``."""
        pages = self._search_cloud(jql, fields) if self.deployment == CLOUD else self._search_dc(jql, fields)
        for page in pages:
            for raw in page:
                yield self._issue(raw)

    def _search_cloud(self, jql: str, fields: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        for _ in self._pages(f"search {jql}"):
            body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": self.page_size}
            if token:
                body["nextPageToken"] = token
            page = self._call("POST", "search/jql", json=body, jql=jql)
            yield _objects(page.get("issues"), "an issue", "Jira POST /rest/api/3/search/jql")
            token = page.get("nextPageToken") or None
            if page.get("isLast") is True or not token:  # the last page may carry no token at all
                return

    def _search_dc(self, jql: str, fields: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
        start = 0
        for _ in self._pages(f"search {jql}"):
            body = {"jql": jql, "fields": list(fields), "startAt": start, "maxResults": self.page_size}
            page = self._call("POST", "search", json=body, jql=jql)
            where = "Jira POST /rest/api/2/search"
            issues = _objects(page.get("issues"), "an issue", where)
            yield issues
            start += len(issues)
            if not issues or start >= _total(page.get("total"), where):
                return

    def _issue(self, raw: dict[str, Any]) -> Issue:
        fields = raw.get("fields")
        f: dict[str, Any] = fields if isinstance(fields, dict) else {}
        shown = f.get("status")
        status = (shown.get("name") if isinstance(shown, dict) else None) or "?"
        assignee = f.get("assignee") or None
        who = (assignee.get("displayName") or assignee.get("name")) if isinstance(assignee, dict) else None
        key = str(raw.get("key") or raw.get("id") or "?")
        # Jira's text is outside text: no control character (a forged line, an escape sequence) is kept
        return Issue(
            key=one_line(key),
            summary=one_line(str(f.get("summary") or "")),
            status=one_line(str(status)),
            assignee=one_line(str(who)) if who else None,
            url=f"{self.site_url}/browse/{quote(key, safe='')}",
        )

    def _pages(self, what: str) -> Iterator[int]:
        """Page numbers while the listing's time and :data:`MAX_PAGES` last; then ExternalError."""
        import time

        ends = time.monotonic() + self.listing_timeout
        for n in range(MAX_PAGES):
            if n and time.monotonic() > ends:
                raise ExternalError(
                    f"Jira {what} did not end within {self.listing_timeout:g} s ({n} pages)",
                    hint="a Jira that never says the last page came? narrow the JQL",
                )
            yield n
        raise ExternalError(f"Jira {what} did not end after {MAX_PAGES} pages")

    # -- transport ------------------------------------------------------------
    def _call(
        self, method: str, path: str, *, project: str | None = None, jql: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        url = f"{self.api_url}/rest/api/{self.version}/{path}"
        response = self.session.request(method, url, **kwargs)
        where = f"Jira {method} /rest/api/{self.version}/{path.split('?')[0]}"
        if response.status_code == 401:
            raise BadInput(f"{where} answered 401: the credentials were refused", hint=self._auth_hint())
        if response.status_code == 403:
            raise BadInput(
                f"{where} answered 403: these credentials may not read this",
                hint="check the account's Browse Projects permission",
            )
        if response.status_code == 404 and project is not None:
            raise ProjectNotFound(
                f"Jira project {project!r} not found: {messages(response) or 'HTTP 404'}",
                hint="check the project key (case-sensitive) and the account's permissions",
            )
        if response.status_code == 400 and jql is not None:
            raise BadInput(
                f"Jira refused the JQL {jql!r}: {messages(response) or 'HTTP 400'}", hint="check --jql"
            )
        if response.status_code == 410:
            raise ExternalError(
                f"{where} answered 410 Gone",
                hint="this Jira retired that endpoint: "
                "use the cloud deployment for Jira Cloud, datacenter for Jira Data Center",
            )
        if not response.ok:
            raise ExternalError(
                f"{where} answered HTTP {response.status_code}: {messages(response)}".rstrip(": ")
            )
        try:
            data = response.json()
        except ValueError:
            raise ExternalError(
                f"{where} answered HTTP {response.status_code} with a body that is not JSON",
                hint="check JIRA_BASE_URL points at Jira",
            ) from None
        if not isinstance(data, dict):
            raise ExternalError(f"{where} answered JSON that is not an object")
        return data

    def _auth_hint(self) -> str:
        if self.auth_kind == "bearer":
            return "check JIRA_PAT (a Data Center personal access token)"
        if self.deployment == CLOUD and not self.cloud_id:
            return (
                "check JIRA_USER_EMAIL and JIRA_API_TOKEN; a scoped API token works only through "
                "https://api.atlassian.com/ex/jira/{cloudId}: set JIRA_CLOUD_ID"
            )
        return "check JIRA_USER_EMAIL and JIRA_API_TOKEN"


def _objects(value: Any, what: str, where: str) -> list[dict[str, Any]]:
    """A page's list of objects; anything else (a ``null`` in the list) is an answer Jira does not give."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        bad = value if not isinstance(value, list) else next(v for v in value if not isinstance(v, dict))
        raise ExternalError(f"{where} answered {what} that is not a JSON object: {str(bad)[:40]!r}")
    return value


def _total(value: Any, where: str) -> int:
    """Data Center's ``total``: a whole number, or the answer is not one Jira gives."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExternalError(f"{where} answered a total that is not a number: {str(value)[:40]!r}")
    return value


def messages(response: Any) -> str:
    """Jira's ``errorMessages`` and ``errors`` as one line (empty if the body has none)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    return "; ".join(parts)
