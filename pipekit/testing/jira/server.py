"""A local Jira on 127.0.0.1 for tests and rehearsals: project versions and issue search, paged.

Follows the documented endpoints and their paging:
- ``GET /rest/api/{3|2}/project/{key}/version`` (``startAt``, ``maxResults``, a loose ``query``
  over name and description): a page bean with ``values`` and ``isLast``.
- Cloud: ``POST /rest/api/3/search/jql`` (``fields`` named, else ids only; ``nextPageToken`` paging,
  ``isLast``, no ``total``, no token on the last page); ``/rest/api/{2,3}/search`` answer 410 Gone.
- Data Center: ``POST``/``GET /rest/api/2/search`` (``startAt``, ``maxResults``, ``total``).
- A scoped Cloud token: with ``cloud_id`` and ``scoped=True`` the site answers 401 and only
  ``/ex/jira/{cloud_id}/rest/...`` (the API gateway's shape) is served.
Errors carry Jira's shape: ``{"errorMessages": [...], "errors": {}}``; a JQL naming an issue key that
does not exist is refused whole (400), naming the key, as Jira does.

Faults: :meth:`JiraStandIn.fail_next` (429 with or without ``Retry-After`` / ``X-RateLimit-Reset``,
503, 401, ...). From a shell: ``python -m pipekit.testing.jira --project ORD --version 1.4.2``
(:mod:`pipekit.testing.jira.__main__`).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipekit.testing.jira.jql import JqlError, parse
from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to


@dataclass
class Version:
    id: str
    name: str
    released: bool = False
    archived: bool = False
    description: str = ""
    release_date: str | None = None


@dataclass
class Issue:
    id: str
    key: str
    summary: str
    status: str = "To Do"
    assignee: str | None = None
    fix_versions: list[str] = field(default_factory=list)


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


class JiraStandIn(ServedStandIn):
    """A threaded HTTP server (port 0 = any free port). Credentials left None accept anything."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        deployment: str = "cloud",
        email: str | None = None,
        token: str | None = None,
        pat: str | None = None,
        cloud_id: str | None = None,
        scoped: bool = False,
        max_results: int = 100,
        log: Any = None,
    ) -> None:
        self._lock = threading.Lock()
        self.reset(
            deployment=deployment,
            email=email,
            token=token,
            pat=pat,
            cloud_id=cloud_id,
            scoped=scoped,
            max_results=max_results,
            log=log,
        )
        self._serve_on(
            handing_to(self._handle, "GET", "POST"), "jira-standin", host, port, poll_interval=0.05
        )

    # -- lifecycle --------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(
        self,
        *,
        deployment: str = "cloud",
        email: str | None = None,
        token: str | None = None,
        pat: str | None = None,
        cloud_id: str | None = None,
        scoped: bool = False,
        max_results: int = 100,
        log: Any = None,
    ) -> None:
        """Back to a stand-in just started with these settings: no projects, requests or faults."""
        with self._lock:
            self.deployment, self.email, self.token, self.pat = deployment, email, token, pat
            self.cloud_id, self.scoped, self.max_results, self.log = cloud_id, scoped, max_results, log
            self.versions: dict[str, list[Version]] = {}
            self.issues: dict[str, list[Issue]] = {}
            self.requests: list[tuple[str, str, int]] = []  # method, path, status answered
            self._faults: deque[Fault] = deque()
            self._ids = 10000
            self._found: dict[tuple[str, int, int], list[Issue]] = {}

    # -- data -------------------------------------------------------------
    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def add_project(self, key: str) -> None:
        self.versions.setdefault(key, [])
        self.issues.setdefault(key, [])

    def add_version(
        self,
        project: str,
        name: str,
        *,
        released: bool = False,
        archived: bool = False,
        description: str = "",
        release_date: str | None = None,
    ) -> Version:
        self.add_project(project)
        version = Version(self._next_id(), name, released, archived, description, release_date)
        self.versions[project].append(version)
        return version

    def add_issue(
        self,
        project: str,
        summary: str,
        status: str = "To Do",
        *,
        fix_versions: tuple[str, ...] = (),
        assignee: str | None = None,
    ) -> Issue:
        self.add_project(project)
        issue = Issue(
            self._next_id(),
            f"{project}-{len(self.issues[project]) + 1}",
            summary,
            status,
            assignee,
            list(fix_versions),
        )
        self.issues[project].append(issue)
        return issue

    def fail_next(
        self,
        status: int = 429,
        *,
        times: int = 1,
        retry_after: str | None = None,
        rate_limit_reset: str | None = None,
        messages: tuple[str, ...] = (),
    ) -> None:
        headers = {
            k: v for k, v in (("Retry-After", retry_after), ("X-RateLimit-Reset", rate_limit_reset)) if v
        }
        body = {"errorMessages": list(messages), "errors": {}} if messages else None
        with self._lock:
            self._faults.extend(Fault(status, dict(headers), body) for _ in range(times))

    # -- serving ----------------------------------------------------------
    def _handle(self, h: QuietHandler) -> None:
        raw = h.read_body()
        split = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        headers: dict[str, str] = {}
        if fault:
            status, body, headers = (
                fault.status,
                fault.body or _errors(f"stand-in fault {fault.status}"),
                fault.headers,
            )
        else:
            status, body = self._route(h.command, unquote(split.path), query, raw, h.headers)
        with self._lock:
            self.requests.append((h.command, split.path, status))
        if self.log:
            self.log(h.command, split.path, status)
        h.reply(
            status, json.dumps(body).encode(), {**headers, "Content-Type": "application/json;charset=UTF-8"}
        )

    def _authorized(self, headers: Any, via_gateway: bool) -> bool:
        sent = headers.get("Authorization") or ""
        if self.scoped and not via_gateway:
            return False  # a scoped token is refused by the site URL
        if self.pat is not None:
            return sent == f"Bearer {self.pat}"
        if self.email is not None or self.token is not None:
            expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return sent == f"Basic {expected}"
        return True

    def _route(
        self, method: str, path: str, query: dict[str, str], raw: bytes, headers: Any
    ) -> tuple[int, dict[str, Any]]:
        gateway = f"/ex/jira/{self.cloud_id}" if self.cloud_id else None
        via_gateway = bool(gateway and path.startswith(f"{gateway}/"))
        if via_gateway and gateway:
            path = path[len(gateway) :]
        if not self._authorized(headers, via_gateway):
            return 401, _errors(
                "You are not authenticated. Authentication required to perform this operation."
            )
        parts = path.strip("/").split("/")
        if len(parts) < 4 or parts[:2] != ["rest", "api"] or parts[2] not in ("2", "3", "latest"):
            return 404, _errors(f"No resource at {path}")
        if self.deployment == "datacenter" and parts[2] == "3":
            return 404, _errors("Null for uri: this Jira has no REST API version 3")
        rest = parts[3:]
        if len(rest) == 3 and rest[0] == "project" and rest[2] == "version" and method == "GET":
            return self._versions(rest[1], query)
        body: dict[str, Any] = {}
        if method == "POST":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return 400, _errors(
                    "Invalid request payload. Refer to the REST API documentation and try again."
                )
        else:
            body = dict(query)
            if "fields" in body:
                body["fields"] = body["fields"].split(",")
        if rest == ["search", "jql"] and self.deployment == "cloud" and method == "POST":
            return self._search_jql(body)
        if rest == ["search"]:
            if self.deployment == "cloud":
                return 410, _errors(
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                )
            return self._search_dc(body)
        return 404, _errors(f"No resource at {path}")

    def _versions(self, key: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if key not in self.versions:
            return 404, _errors(f"No project could be found with key '{key}'.")
        found = self.versions[key]
        loose = (query.get("query") or "").lower()
        if loose:
            found = [v for v in found if loose in v.name.lower() or loose in v.description.lower()]
        start, size = int(query.get("startAt") or 0), min(int(query.get("maxResults") or 50), 50)
        page = found[start : start + size]
        values = [
            {
                "self": f"{self.base_url}/rest/api/3/version/{v.id}",
                "id": v.id,
                "name": v.name,
                "description": v.description,
                "archived": v.archived,
                "released": v.released,
                **({"releaseDate": v.release_date} if v.release_date else {}),
            }
            for v in page
        ]
        return 200, {
            "self": f"{self.base_url}/rest/api/3/project/{key}/version",
            "maxResults": size,
            "startAt": start,
            "total": len(found),
            "isLast": start + size >= len(found),
            "values": values,
        }

    def _matching(self, jql: str) -> list[Issue]:
        """The issues the JQL finds, kept per query until the data changes (as a cursor would)."""
        with self._lock:
            key = (jql, sum(len(i) for i in self.issues.values()), self._ids)
            if key not in self._found:
                self._found = {key: self._match(jql)}
            return self._found[key]

    def _match(self, jql: str) -> list[Issue]:
        q = parse(jql)
        every = [i for project in self.issues.values() for i in project]
        known = {i.key.upper() for i in every}
        missing = [k for k in q.keys if k.upper() not in known]
        if missing:  # Jira refuses the whole query, naming each missing key
            raise JqlError(
                " ".join(f"An issue with key '{k}' does not exist for field 'key'." for k in missing)
            )
        found = [
            i
            for i in every
            if q.match(
                {
                    "project": i.key.split("-")[0],
                    "fixversion": i.fix_versions,
                    "status": i.status,
                    "key": i.key,
                    "assignee": i.assignee,
                    "summary": i.summary,
                }
            )
        ]
        return sorted(found, key=lambda i: int(i.id)) if q.order_by else found

    def _render(self, issue: Issue, fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": issue.id}
        if not fields:
            return out  # search/jql's default: ids only
        out.update(key=issue.key, self=f"{self.base_url}/rest/api/3/issue/{issue.id}")
        values: dict[str, Any] = {
            "summary": issue.summary,
            "status": {
                "name": issue.status,
                "statusCategory": {"key": "done" if issue.status == "Done" else "new"},
            },
            "assignee": {"displayName": issue.assignee, "accountId": f"acc-{issue.assignee}"}
            if issue.assignee
            else None,
        }
        out["fields"] = {f: values.get(f) for f in fields if f in values or f == "*all"}
        return out

    def _search_jql(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        jql = str(body.get("jql") or "")
        try:
            found = self._matching(jql)
        except JqlError as exc:
            return 400, _errors(str(exc))
        token = str(body.get("nextPageToken") or "")
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return 400, _errors("The provided next page token is invalid or expired.")
        size = max(1, min(int(body.get("maxResults") or 50), self.max_results))
        page = found[start : start + size]
        out: dict[str, Any] = {"issues": [self._render(i, list(body.get("fields") or [])) for i in page]}
        if start + size < len(found):
            out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            out["isLast"] = False
        else:
            out["isLast"] = True  # and no nextPageToken at all, as Jira Cloud answers (JRACLOUD-92184)
        return 200, out

    def _search_dc(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            found = self._matching(str(body.get("jql") or ""))
        except JqlError as exc:
            return 400, _errors(str(exc))
        start = int(body.get("startAt") or 0)
        size = max(1, min(int(body.get("maxResults") or 50), self.max_results))
        fields = list(body.get("fields") or ["summary", "status", "assignee"])
        return 200, {
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [self._render(i, fields) for i in found[start : start + size]],
        }


def _errors(*messages: str) -> dict[str, Any]:
    return {"errorMessages": list(messages), "errors": {}}
