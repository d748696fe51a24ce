"""A small Argo CD REST client: session login, get/refresh an app, sync, the watch stream.

Knows Argo CD and nothing of pipelines. Errors:

- :class:`AuthRejected` (exit 2): the server answered 401 (bad or expired token, wrong password).
  With a username and password the client logs in again once before giving up.
- :class:`AppNotFound` (exit 1): 404, or 403 on an app (Argo CD answers 403 for a missing app
  unless a project is given, so both possibilities are named).
- :class:`~pipekit.core.errors.ExternalError` (exit 3): unreachable, or 5xx after retries.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from pipekit.core import http, masking
from pipekit.core.errors import BadInput, CheckFailed, ExternalError

log = logging.getLogger("pipekit.argocd")


class AuthRejected(BadInput):
    """Argo CD answered 401."""


class AppNotFound(CheckFailed):
    """The app does not exist, or this account may not see it."""


def base_url(server: str, *, root_path: str = "", plaintext: bool = False) -> str:
    """``https://host[:port][/root]`` from ``ARGOCD_SERVER`` (``host[:port]`` or a full URL)."""
    server = server.strip()
    if not server:
        raise BadInput("ARGOCD_SERVER is empty: set it to host[:port] or a URL of the Argo CD API server")
    if "://" not in server:
        server = ("http://" if plaintext else "https://") + server
    elif plaintext and server.startswith("https://"):
        server = "http://" + server[len("https://") :]
    split = urlsplit(server)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise BadInput(f"ARGOCD_SERVER {masking.mask_url(server)!r} is not host[:port] or an http(s) URL")
    if split.username or split.password:
        raise BadInput(
            "ARGOCD_SERVER must not carry credentials: "
            "use ARGOCD_AUTH_TOKEN or ARGOCD_USERNAME/ARGOCD_PASSWORD"
        )
    path = "/".join(p for p in (split.path.strip("/"), root_path.strip("/")) if p)
    host = split.netloc
    return f"{split.scheme}://{host}" + (f"/{path}" if path else "")


def error_text(response: requests.Response) -> str:
    """The ``message`` (or ``error``) of an Argo CD (grpc-gateway) error body, else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = body.get("message") or body.get("error")
        if text:
            return masking.mask(str(text))[:300]
    return f"HTTP {response.status_code}"


class ArgoCDClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
        request_timeout: float = 15.0,
        connect_timeout: float = 5.0,
        attempts: int = 4,
        total_timeout: float = 60.0,
        backoff: float = 0.5,
        token_source: str = "ARGOCD_AUTH_TOKEN",
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token or None
        self.username = username or None
        self.password = password or None
        self.verify = verify
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.relogins = 0
        self._lock = threading.Lock()
        self._session = http.session(
            attempts=attempts,
            total_timeout=total_timeout,
            timeout=(connect_timeout, request_timeout),
            backoff=backoff,
            max_backoff=5.0,
        )
        self._session.verify = verify
        if not verify:  # asked for with --insecure: say it once, not on every request
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            log.warning("TLS certificate verification is off for %s (--insecure)", masking.mask_url(self.url))
        self._streams = requests.Session()
        self._streams.verify = verify
        if token:
            masking.header_value(token, token_source)
        masking.add_secret(password)

    # -- auth -------------------------------------------------------------
    @property
    def can_login(self) -> bool:
        return bool(self.username and self.password)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def login(self) -> None:
        """``POST /api/v1/session`` with the username and password; keeps the session token."""
        if not self.can_login:
            raise BadInput(
                "no Argo CD credentials: set ARGOCD_AUTH_TOKEN, or ARGOCD_USERNAME and ARGOCD_PASSWORD"
            )
        response = self._session.post(
            self.url + "/api/v1/session",
            json={"username": self.username, "password": self.password},
            headers={"Accept": "application/json"},
            verify=self.verify,
        )
        if response.status_code in (401, 403):
            raise AuthRejected(
                f"Argo CD at {masking.mask_url(self.url)} refused the login of ARGOCD_USERNAME "
                f"{self.username!r} (HTTP {response.status_code}: {error_text(response)})",
                hint="check ARGOCD_USERNAME/ARGOCD_PASSWORD",
            )
        if response.status_code >= 400:
            raise ExternalError(f"POST {masking.mask_url(self.url)}/api/v1/session: {error_text(response)}")
        token = _json(response).get("token")
        if not isinstance(token, str) or not token:
            raise ExternalError(f"POST {masking.mask_url(self.url)}/api/v1/session answered no token")
        self.token = masking.header_value(token, f"the session token from {masking.mask_url(self.url)}")

    def _rejected(self, response: requests.Response) -> AuthRejected:
        """The error for a 401; closes ``response`` first."""
        response.close()
        source = (
            "the session token from ARGOCD_USERNAME/ARGOCD_PASSWORD"
            if self.can_login
            else "ARGOCD_AUTH_TOKEN"
        )
        return AuthRejected(
            f"Argo CD at {masking.mask_url(self.url)} rejected {source} (HTTP 401: {error_text(response)})",
            hint="the token is invalid, expired or revoked: create a new one (argocd account generate-token)",
        )

    def request(
        self, method: str, path: str, *, stream: bool = False, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """One API call with auth; on 401 logs in again once (username/password) and retries."""
        if not self.token and self.can_login:
            with self._lock:
                if not self.token:
                    self.login()
        read = self.request_timeout if timeout is None else max(0.05, timeout)
        sender = self._streams if stream else self._session

        def send() -> requests.Response:  # headers read anew: a login in between changes the token
            return sender.request(
                method,
                self.url + path,
                headers=self._headers(),
                stream=stream,
                timeout=(self.connect_timeout, read),
                verify=self.verify,
                **kwargs,
            )

        used = self.token
        response = send()
        if response.status_code != 401:
            return response
        if not self.can_login:
            raise self._rejected(response)
        with self._lock:
            if self.token == used:  # nobody else logged in meanwhile
                if self.relogins >= 1:
                    raise self._rejected(response)
                log.debug("Argo CD answered 401: logging in again")
                self.relogins += 1
                self.login()
        response.close()
        response = send()
        if response.status_code == 401:
            raise self._rejected(response)
        return response

    # -- API --------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        response = self.request("GET", "/api/version")
        return _json(response) if response.ok else {}

    def get_app(
        self,
        name: str,
        *,
        refresh: str | None = None,
        project: str | None = None,
        app_namespace: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        params = _params(refresh=refresh, project=project, appNamespace=app_namespace)
        response = self.request(
            "GET", f"/api/v1/applications/{quote(name, safe='')}", params=params, timeout=timeout
        )
        self._check_app(response, name, project)
        return _json(response)

    def list_apps(
        self, *, project: str | None = None, selector: str | None = None, app_namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """``GET /api/v1/applications``: every application this account may read (one request)."""
        params = _params(projects=project, selector=selector, appNamespace=app_namespace)
        response = self.request("GET", "/api/v1/applications", params=params)
        if response.status_code == 403:
            raise CheckFailed(
                f"Argo CD refused to list applications (HTTP 403: {error_text(response)})",
                hint="grant the account 'applications, get' on the project",
            )
        if response.status_code >= 400:
            raise ExternalError(
                f"GET {masking.mask_url(self.url)}/api/v1/applications: {error_text(response)}"
            )
        items = _json(response).get("items")
        return [app for app in items if isinstance(app, dict)] if isinstance(items, list) else []

    def sync(
        self, name: str, revision: str, *, project: str | None = None, app_namespace: str | None = None
    ) -> dict[str, Any]:
        """``POST .../sync`` at ``revision``. Raises CheckFailed with Argo CD's message on refusal."""
        body: dict[str, Any] = {
            "name": name,
            "revision": revision,
            "prune": False,
            "dryRun": False,
            "strategy": {"hook": {"force": False}},
        }
        body.update(_params(project=project, appNamespace=app_namespace))
        response = self.request("POST", f"/api/v1/applications/{quote(name, safe='')}/sync", json=body)
        self._check_app(response, name, project)
        return _json(response)

    def open_stream(
        self,
        name: str,
        *,
        project: str | None = None,
        app_namespace: str | None = None,
        idle_timeout: float = 60.0,
    ) -> requests.Response:
        """``GET /api/v1/stream/applications?name=`` as a streaming response (NDJSON)."""
        params = _params(name=name, project=project, appNamespace=app_namespace)
        response = self.request(
            "GET", "/api/v1/stream/applications", params=params, stream=True, timeout=idle_timeout
        )
        if response.status_code >= 500:
            response.close()
            raise ExternalError(f"stream of app {name!r}: HTTP {response.status_code}")
        self._check_app(response, name, project)
        return response

    def _check_app(self, response: requests.Response, name: str, project: str | None) -> None:
        code = response.status_code
        if code < 400:
            return
        text = error_text(response)
        response.close()
        if code == 404:
            where = f" in project {project!r}" if project else ""
            raise AppNotFound(
                f"Argo CD app {name!r} not found{where} (HTTP 404: {text})",
                hint="check the app name (argocd app list)",
            )
        if code == 403:
            both = (
                "it does not exist, or this account may not read it"
                if not project
                else f"it is not in project {project!r}, or this account may not read it"
            )
            raise AppNotFound(
                f"Argo CD app {name!r}: permission denied (HTTP 403): {both}",
                hint="Argo CD answers 403 for a missing app unless a project is given: check the name, "
                "pass --project to tell the two apart, or grant the account 'applications, get'",
            )
        raise CheckFailed(f"Argo CD refused the request for app {name!r} (HTTP {code}: {text})")

    def close(self) -> None:
        self._session.close()
        self._streams.close()


def iter_stream(response: requests.Response) -> Iterator[dict[str, Any]]:
    """The applications of a watch stream, one per event, as soon as each line arrives.

    Reads with ``read1`` so a small event is not held back waiting for a full buffer.
    Lines are ``{"result": {"type": ..., "application": {...}}}`` (an ``{"error": ...}`` line ends it).
    """
    raw = response.raw
    buffer = b""
    while True:
        chunk = raw.read1(65536) if hasattr(raw, "read1") else raw.read(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                log.debug("stream: skipping a line that is not JSON")
                continue
            if not isinstance(message, dict):
                continue
            if "error" in message and "result" not in message:
                raise ExternalError(
                    f"stream ended with an error: {masking.mask(str(message['error']))[:200]}"
                )
            result = _obj(message.get("result"))
            app = _obj(result.get("application"))
            if result.get("type") == "DELETED":
                name = _obj(app.get("metadata")).get("name", "?")
                raise AppNotFound(f"Argo CD app {name!r} was deleted while waiting for it")
            if app:
                yield app


def abort(response: requests.Response | None) -> None:
    """Close a streaming response now, waking a thread blocked reading it."""
    if response is None:
        return
    conn = getattr(response.raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    try:
        response.close()
    except Exception:  # noqa: BLE001 - closing is best effort
        pass


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ExternalError(f"Argo CD answered {response.status_code} with a body that is not JSON") from None
    return data if isinstance(data, dict) else {}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
