"""The Argo CD API stand-in: a real HTTP server on 127.0.0.1 with scenarios and faults.

Endpoints (wire shapes of Argo CD v3.5's REST API, errors as grpc-gateway writes them):
``GET /api/version``, ``POST /api/v1/session``, ``GET /api/v1/applications`` (``?projects=``),
``GET /api/v1/applications/{name}``
(``?refresh=``, ``?project=``, ``?appNamespace=``), ``POST /api/v1/applications/{name}/sync``
and ``GET /api/v1/stream/applications?name=`` (NDJSON, chunked, one flush per event).

Faults (:class:`Faults`, changeable while running): ``fail_next`` 502 answers, ``reset_next``
connection resets, ``stall`` (accept, never answer), ``drop_stream_after`` events,
``token_ttl`` for issued tokens and :meth:`ArgoCDStandIn.expire_tokens`.
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipekit.testing.argocd.apps import AppModel
from pipekit.testing.serving import QuietHandler, ServedStandIn

Step = tuple[float, dict[str, Any]]


@dataclass
class Faults:
    fail_next: int = 0  # answer the next N API requests with 502
    fail_paths: tuple[str, ...] = ()  # limit fail_next/reset_next to paths starting with these
    reset_next: int = 0  # reset the connection of the next N requests
    stall: bool = False  # accept requests and never answer (until cleared or shut down)
    stall_streams_only: bool = False
    drop_stream_after: int = 0  # cut every stream after N events (0: never)
    token_ttl: float | None = None  # seconds an issued token stays valid


@dataclass
class Auth:
    tokens: dict[str, float | None] = field(default_factory=dict)  # token -> monotonic expiry
    users: dict[str, str] = field(default_factory=dict)
    required: bool = True

    def valid(self, token: str | None) -> bool:
        if not self.required:
            return True
        if not token or token not in self.tokens:
            return False
        expiry = self.tokens[token]
        return expiry is None or time.monotonic() < expiry


class ArgoCDStandIn(ServedStandIn):
    """``with ArgoCDStandIn() as argo: argo.add_app("orders-dev", revision=SHA); argo.url ...``"""

    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        users: dict[str, str] | None = None,
        auth: bool = True,
        root_path: str = "",
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.reset(token=token, users=users, auth=auth, root_path=root_path)
        self.tls = tls is not None  # (certfile, keyfile): serve https, e.g. to check --insecure
        self._serve_on(_Handler, "argocd-standin", port=port, tls=tls)

    # -- lifecycle ------------------------------------------------------------
    @property
    def server(self) -> str:
        """``127.0.0.1:PORT``: what ARGOCD_SERVER holds (use --plaintext)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{self.root_path}"

    def reset(
        self,
        *,
        token: str | None = None,
        users: dict[str, str] | None = None,
        auth: bool = True,
        root_path: str = "",
    ) -> None:
        """Back to a stand-in just started with these settings: no apps, no requests, no faults."""
        with self.cond:
            self.faults = Faults()
            self.auth = Auth(users=dict(users or {}), required=auth)
            self.token = token or "standin-" + secrets.token_hex(12)
            self.auth.tokens[self.token] = None
            self.root_path = "/" + root_path.strip("/") if root_path.strip("/") else ""
            self.apps: dict[str, AppModel] = {}
            self.requests: list[tuple[str, str]] = []  # (method, path with query) of every request
            self.sync_requests: list[dict[str, Any]] = []
            self.refreshes: list[tuple[str, str]] = []
            self.on_refresh: Callable[[str, str], None] | None = None  # (app, kind): the GitOps follower
            self.on_sync: Callable[[str, dict[str, Any]], None] | None = None
            self._timers: list[threading.Thread] = []
            previous: threading.Event | None = getattr(self, "_cancel", None)
            if previous is not None:
                previous.set()  # the scenarios still playing end
            self._cancel = threading.Event()
            self.cond.notify_all()

    def _before_halt(self) -> None:
        self.stopping.set()
        self._cancel.set()
        with self.cond:
            self.cond.notify_all()

    # -- apps and scenarios -----------------------------------------------------
    def add_app(self, name: str, *, project: str = "default", **state: Any) -> AppModel:
        with self.cond:
            app = AppModel(name, project=project, **state)
            self.apps[name] = app
            self.cond.notify_all()
        return app

    def set_state(self, name: str, **patch: Any) -> None:
        with self.cond:
            self.apps[name].apply(patch)
            self.cond.notify_all()

    def delete_app(self, name: str) -> None:
        """Delete an app: open streams get a DELETED event, reads answer 403/404."""
        with self.cond:
            self.apps.pop(name)
            self.cond.notify_all()

    def play(self, name: str, steps: Iterable[Step]) -> threading.Thread:
        """Apply ``(delay_s, patch)`` steps one after another (delays relative to the previous step)."""
        todo, cancel = list(steps), self._cancel

        def run() -> None:
            for delay, patch in todo:
                if cancel.wait(delay):
                    return
                self.set_state(name, **patch)

        thread = threading.Thread(target=run, name=f"scenario-{name}", daemon=True)
        thread.start()
        self._timers.append(thread)
        return thread

    def changed_at(self, name: str) -> float:
        """``time.monotonic()`` of the app's last change (latency measurements)."""
        return self.apps[name].changed_at

    # -- auth -------------------------------------------------------------------
    def issue_token(self) -> str:
        token = "standin-" + secrets.token_hex(12)
        ttl = self.faults.token_ttl
        self.auth.tokens[token] = None if ttl is None else time.monotonic() + ttl
        return token

    def expire_tokens(self, after: float = 0.0) -> None:
        """Every token known now expires ``after`` seconds from now."""
        at = time.monotonic() + after
        for token in list(self.auth.tokens):
            self.auth.tokens[token] = at
        with self.cond:
            self.cond.notify_all()


def _err(code: int, message: str) -> tuple[int, dict[str, Any]]:
    grpc = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 502: 14}.get(code, 2)
    return code, {"error": message, "code": grpc, "message": message}


class _Handler(QuietHandler):
    server_version = "argocd-standin/3.5.1"

    @property
    def argo(self) -> ArgoCDStandIn:
        standin: ArgoCDStandIn = self.server.standin  # type: ignore[attr-defined]
        return standin

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # -- plumbing ---------------------------------------------------------------
    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:].strip()
        for part in self.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "argocd.token":
                return value
        return None

    def _body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.read_body() or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _dispatch(self, method: str) -> None:
        argo, faults = self.argo, self.argo.faults
        split = urlsplit(self.path)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        argo.requests.append((method, self.path))
        body = self._body() if method == "POST" else {}
        if argo.root_path:
            if not path.startswith(argo.root_path + "/"):
                self.reply_json(*_err(404, f"no such path {path} (the server lives under {argo.root_path})"))
                return
            path = path[len(argo.root_path) :]
        streaming = path.startswith("/api/v1/stream/")
        if faults.stall and (streaming or not faults.stall_streams_only):
            argo.stopping.wait()
            self.close_connection = True
            return
        targeted = not faults.fail_paths or path.startswith(faults.fail_paths)
        if faults.reset_next > 0 and targeted:
            faults.reset_next -= 1
            self._reset()
            return
        if faults.fail_next > 0 and targeted:
            faults.fail_next -= 1
            self.reply_json(502, {"error": "bad gateway"})
            return
        if path == "/api/version" and method == "GET":
            self.reply_json(
                200,
                {
                    "Version": "v3.5.1+standin",
                    "BuildDate": "2026-01-01T00:00:00Z",
                    "GitTreeState": "clean",
                    "GoVersion": "go1.24",
                    "Platform": "linux/amd64",
                    "KustomizeVersion": "v5.5.0",
                },
            )
            return
        if path == "/api/v1/session" and method == "POST":
            user, password = str(body.get("username", "")), str(body.get("password", ""))
            if user in argo.auth.users and argo.auth.users[user] == password:
                self.reply_json(200, {"token": argo.issue_token()})
            else:
                self.reply_json(*_err(401, "Invalid username or password"))
            return
        if not argo.auth.valid(self._token()):
            known = self._token() in argo.auth.tokens
            self.reply_json(
                *_err(
                    401,
                    "invalid session: token has invalid claims: token is expired"
                    if known
                    else "no session information",
                )
            )
            return
        if streaming and path == "/api/v1/stream/applications" and method == "GET":
            self._stream(query)
            return
        parts = [unquote(p) for p in path.split("/")]
        if path.rstrip("/") == "/api/v1/applications" and method == "GET":
            projects = parse_qs(split.query).get("projects", [])
            with argo.cond:
                items = [a.to_json() for a in argo.apps.values() if not projects or a.project in projects]
            self.reply_json(200, {"metadata": {"resourceVersion": str(len(argo.requests))}, "items": items})
            return
        if len(parts) >= 5 and parts[1:4] == ["api", "v1", "applications"]:
            name = parts[4]
            app = argo.apps.get(name)
            if app is None or (query.get("project") and query["project"] != app.project):
                self._missing(name, query.get("project"))
                return
            if len(parts) == 5 and method == "GET":
                if query.get("refresh") in ("normal", "hard"):
                    argo.refreshes.append((name, query["refresh"]))
                    if argo.on_refresh:
                        argo.on_refresh(name, query["refresh"])
                with argo.cond:
                    self.reply_json(200, argo.apps[name].to_json())
                return
            if len(parts) == 6 and parts[5] == "sync" and method == "POST":
                self._sync(name, body)
                return
        self.reply_json(*_err(404, f"Not Found: {method} {path}"))

    def _missing(self, name: str, project: str | None) -> None:
        if project:
            self.reply_json(*_err(404, f'applications.argoproj.io "{name}" not found'))
        else:
            self.reply_json(*_err(403, "permission denied"))

    def _sync(self, name: str, body: dict[str, Any]) -> None:
        argo = self.argo
        app = argo.apps[name]
        if app.state.get("phase") == "Running" or app.state.get("pending_operation"):
            self.reply_json(*_err(400, "another operation is already in progress"))
            return
        argo.sync_requests.append({"name": name, **body})
        if argo.on_sync:
            argo.on_sync(name, body)
        with argo.cond:
            self.reply_json(200, argo.apps[name].to_json())

    def _stream(self, query: dict[str, str]) -> None:
        argo, faults = self.argo, self.argo.faults
        name = query.get("name", "")
        app = argo.apps.get(name)
        if app is None or (query.get("project") and query["project"] != app.project):
            self._missing(name, query.get("project"))
            return
        token = self._token()
        self.start_chunks()
        sent_version, events, kind = -1, 0, "ADDED"
        try:
            while not argo.stopping.is_set():
                with argo.cond:
                    argo.cond.wait_for(
                        lambda v=sent_version: (
                            argo.stopping.is_set()  # type: ignore[misc]
                            or name not in argo.apps
                            or argo.apps[name].resource_version != v
                            or not argo.auth.valid(token)
                        ),
                        timeout=1.0,
                    )
                    if argo.stopping.is_set() or not argo.auth.valid(token):
                        break
                    if name not in argo.apps:
                        gone = json.dumps(
                            {"result": {"type": "DELETED", "application": app.to_json()}}
                        ).encode()
                        self.chunk(gone + b"\n")
                        break
                    current = app = argo.apps[name]
                    if current.resource_version == sent_version:
                        continue
                    sent_version = current.resource_version
                    line = (
                        json.dumps({"result": {"type": kind, "application": current.to_json()}}).encode()
                        + b"\n"
                    )
                self.chunk(line)
                kind, events = "MODIFIED", events + 1
                if faults.drop_stream_after and events >= faults.drop_stream_after:
                    self._reset()  # cut mid-stream, no terminating chunk
                    return
            self.chunk(b"")
        except OSError:
            pass
        self.close_connection = True
