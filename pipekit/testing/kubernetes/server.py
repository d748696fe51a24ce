"""A Kubernetes API stand-in on 127.0.0.1: namespaced get, list and watch over real HTTP(S).

Serves ``/api/v1/namespaces/{ns}/pods`` and ``/apis/apps/v1/namespaces/{ns}/{deployments,replicasets,
statefulsets,daemonsets}`` (``[/{name}]``), lists as ``{"kind": "DeploymentList", "metadata":
{"resourceVersion": ...}, "items": [...]}``, ``?labelSelector=k=v,...``, ``?fieldSelector=metadata.name=X``,
and ``?watch=1&resourceVersion=RV&timeoutSeconds=N``: chunked, newline-delimited watch events, one flush
per event; a resourceVersion older than the kept history gets a 410 ``Expired`` ERROR event.
Errors are ``Status`` objects as the API server writes them (401 Unauthorized, 404 NotFound).
Plus the discovery documents ``/api``, ``/apis``, ``/api/v1`` and ``/apis/apps/v1``, so ``kubectl`` works.

Bearer tokens: :meth:`KubernetesStandIn.rotate_token` issues a new one (and, by default, revokes the
old one at once, as the strictest case of a bound token's rotation). ``faults.no_watch`` answers
watch requests with 405 (the client must fall back to polling).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipekit.testing.kubernetes import discovery
from pipekit.testing.kubernetes.selectors import pairs as _pairs
from pipekit.testing.kubernetes.selectors import selected as _selected
from pipekit.testing.kubernetes.selectors import status
from pipekit.testing.serving import QuietHandler, ServedStandIn

Obj = dict[str, Any]
KINDS = {
    "pods": "Pod",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
}
GROUP = {
    "pods": "",
    "deployments": "apps",
    "replicasets": "apps",
    "statefulsets": "apps",
    "daemonsets": "apps",
}


@dataclass
class Faults:
    no_watch: bool = False  # answer ?watch=1 with 405 MethodNotAllowed
    history: int = 10_000  # events kept for watches from an older resourceVersion


@dataclass
class Event:
    version: int
    plural: str
    namespace: str
    type: str
    obj: Obj


@dataclass
class Store:
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    version: int = 100


class KubernetesStandIn(ServedStandIn):
    """``with KubernetesStandIn() as kube: kube.apply(obj); kube.url; kube.token ...``"""

    def __init__(
        self, *, port: int = 0, token: str | None = None, tls: tuple[str, str] | None = None
    ) -> None:
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.reset(token=token)
        self.scheme = "https" if tls else "http"
        self._serve_on(
            _Handler,
            "kube-standin",
            port=port,
            poll_interval=0.2,
            tls=tls,
            block_on_close=False,  # open watches end with the stand-in, not after their timeout
        )
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def reset(self, *, token: str | None = None) -> None:
        """Back to a stand-in just started with this token: no objects, requests or faults."""
        with self.cond:
            self.faults = Faults()
            self.store = Store()
            self.tokens = {token or "standin-" + secrets.token_hex(16)}
            self.token = next(iter(self.tokens))
            self.requests: list[tuple[str, int]] = []  # (path with query, status)
            self.cond.notify_all()

    def _before_halt(self) -> None:
        self.stopping.set()
        with self.cond:
            self.cond.notify_all()

    # -- tokens ---------------------------------------------------------
    def rotate_token(self, *, revoke_old: bool = True) -> str:
        new = "standin-" + secrets.token_hex(16)
        with self.cond:
            if revoke_old:
                self.tokens.clear()
            self.tokens.add(new)
            self.token = new
        return new

    # -- objects --------------------------------------------------------
    @staticmethod
    def _key(obj: Obj) -> tuple[str, str, str]:
        kind = obj["kind"]
        plural = next(p for p, k in KINDS.items() if k == kind)
        return plural, obj["metadata"]["namespace"], obj["metadata"]["name"]

    def apply(self, *objs: Obj) -> None:
        """Create or replace objects (a new resourceVersion each; ADDED or MODIFIED events)."""
        with self.cond:
            for obj in objs:
                key = self._key(obj)
                kind = "MODIFIED" if key in self.store.objects else "ADDED"
                self._record(key, kind, copy.deepcopy(obj))
            self.cond.notify_all()

    def update(self, obj: Obj, change: Callable[[Obj], None]) -> Obj:
        """Apply ``change`` to the stored copy of ``obj`` (a MODIFIED event); returns the new copy."""
        with self.cond:
            key = self._key(obj)
            current = copy.deepcopy(self.store.objects[key])
            change(current)
            self._record(key, "MODIFIED", current)
            self.cond.notify_all()
            return copy.deepcopy(current)

    def delete(self, obj: Obj) -> None:
        with self.cond:
            key = self._key(obj)
            if key in self.store.objects:
                self._record(key, "DELETED", self.store.objects[key])
                del self.store.objects[key]
            self.cond.notify_all()

    def get(self, obj: Obj) -> Obj | None:
        with self.cond:
            found = self.store.objects.get(self._key(obj))
            return copy.deepcopy(found) if found else None

    def _record(self, key: tuple[str, str, str], kind: str, obj: Obj) -> None:
        self.store.version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.store.version)
        if kind != "DELETED":
            self.store.objects[key] = obj
        self.store.events.append(Event(self.store.version, key[0], key[1], kind, copy.deepcopy(obj)))
        if len(self.store.events) > self.faults.history:
            del self.store.events[: len(self.store.events) - self.faults.history]

    def play(self, steps: Iterable[tuple[float, Callable[[], None]]]) -> threading.Thread:
        """Run each action after its delay (seconds after the previous one) in a thread."""

        def run() -> None:
            for delay, action in steps:
                if self.stopping.wait(delay):
                    return
                action()

        thread = threading.Thread(target=run, name="kube-standin-play", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    # -- serving helpers --------------------------------------------------
    def select(self, plural: str, namespace: str, query: dict[str, str]) -> list[Obj]:
        labels = _pairs(query.get("labelSelector", ""))
        fields = _pairs(query.get("fieldSelector", ""))
        found = []
        for (p, ns, _), obj in sorted(self.store.objects.items()):
            if p == plural and ns == namespace and _selected(obj, labels, fields):
                found.append(copy.deepcopy(obj))
        return found


class _Handler(QuietHandler):
    @property
    def kube(self) -> KubernetesStandIn:
        standin: KubernetesStandIn = self.server.standin  # type: ignore[attr-defined]
        return standin

    def _send(self, code: int, body: Obj) -> None:
        self.kube.requests.append((self.path, code))
        try:
            self.reply_json(code, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.kube.tokens:
            return self._send(401, status(401, "Unauthorized", "Unauthorized"))
        doc = discovery.document(split.path)
        if doc is not None:
            return self._send(200, doc)
        parts = split.path.strip("/").split("/")
        # api/v1/namespaces/NS/PLURAL[/NAME] or apis/apps/v1/namespaces/NS/PLURAL[/NAME]
        if parts[:2] == ["api", "v1"]:
            rest, group = parts[2:], ""
        elif parts[:3] == ["apis", "apps", "v1"]:
            rest, group = parts[3:], "apps"
        else:
            return self._send(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )
        if (
            len(rest) not in (3, 4)
            or rest[0] != "namespaces"
            or rest[2] not in KINDS
            or GROUP[rest[2]] != group
        ):
            return self._send(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )
        namespace, plural = rest[1], rest[2]
        if len(rest) == 4:
            with self.kube.cond:
                obj = self.kube.store.objects.get((plural, namespace, rest[3]))
                body = copy.deepcopy(obj) if obj else None
            if body is None:
                qualified = f"{plural}.{group}" if group else plural
                return self._send(
                    404,
                    status(
                        404,
                        "NotFound",
                        f'{qualified} "{rest[3]}" not found',
                        {"name": rest[3], "group": group, "kind": plural},
                    ),
                )
            return self._send(200, body)
        if query.get("watch") in ("1", "true"):
            if self.kube.faults.no_watch:
                return self._send(405, status(405, "MethodNotAllowed", "watch is not supported here"))
            return self._watch(plural, namespace, query)
        with self.kube.cond:
            items = self.kube.select(plural, namespace, query)
            version = str(self.kube.store.version)
        api_version = "apps/v1" if group else "v1"
        return self._send(
            200,
            {
                "kind": f"{KINDS[plural]}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _watch(self, plural: str, namespace: str, query: dict[str, str]) -> None:
        kube = self.kube
        try:
            since = int(query.get("resourceVersion") or 0)
        except ValueError:
            return self._send(400, status(400, "BadRequest", "resourceVersion must be an integer here"))
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        labels, fields = _pairs(query.get("labelSelector", "")), _pairs(query.get("fieldSelector", ""))
        kube.requests.append((self.path, 200))
        try:
            self.start_chunks()
            with kube.cond:
                events = kube.store.events
                if since and events and since < events[0].version - 1:
                    gone = status(410, "Expired", f"too old resource version: {since} ({events[0].version})")
                    self.chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                    self.chunk(b"")
                    return
            while not kube.stopping.is_set():
                with kube.cond:
                    pending = [
                        e
                        for e in kube.store.events
                        if e.version > since and e.plural == plural and e.namespace == namespace
                    ]
                    if not pending:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        kube.cond.wait(min(left, 5.0))
                        continue
                for event in pending:
                    since = event.version
                    if _selected(event.obj, labels, fields):
                        self.chunk(json.dumps({"type": event.type, "object": event.obj}).encode() + b"\n")
            self.chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True
