"""A small Kubernetes API client over ``requests``: get, list and watch of namespaced objects.

Knows the Kubernetes REST API and nothing of pipelines. Where the server is and how to log in
comes from :mod:`pipekit.clients.kubeconfig`. A token read from a file is re-read every minute
and once after a 401 (bound service-account tokens rotate); a second 401 is
:class:`AuthRejected` (exit 2, naming where the token came from). 403 is :class:`Forbidden`
(exit 2, naming the verb and resource the Role lacks); 404 is :class:`NotFound`.

Watches are ``GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=N``:
newline-delimited JSON events ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}}``;
an ``ERROR`` event carries a ``Status`` (410 Expired: list again).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from pipekit.clients.kubeconfig import ClusterConfig
from pipekit.core import http
from pipekit.core.errors import BadInput, ExternalError

log = logging.getLogger("pipekit.kubernetes")


class AuthRejected(BadInput):
    """The API server answered 401 twice (after re-reading the token)."""


class Forbidden(BadInput):
    """The API server answered 403: the service account's Role lacks a verb."""


class NotFound(BadInput):
    """The object does not exist (404)."""


class Expired(Exception):
    """A watch's resourceVersion is too old (410): list again."""


@dataclass(frozen=True)
class Resource:
    """A namespaced resource type: ``Resource("apps/v1", "deployments", "Deployment")``."""

    group_version: str
    plural: str
    kind: str

    def path(self, namespace: str, name: str | None = None) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        path = f"{prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return path + (f"/{quote(name, safe='')}" if name else "")


DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment")
REPLICASETS = Resource("apps/v1", "replicasets", "ReplicaSet")
STATEFULSETS = Resource("apps/v1", "statefulsets", "StatefulSet")
DAEMONSETS = Resource("apps/v1", "daemonsets", "DaemonSet")
PODS = Resource("v1", "pods", "Pod")


def status_message(response: requests.Response) -> str:
    """The ``message`` of a ``Status`` body, else the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {response.status_code}"


class KubernetesClient:
    def __init__(
        self,
        config: ClusterConfig,
        *,
        request_timeout: float = 10.0,
        total_timeout: float = 30.0,
        backoff: float = 0.5,
    ) -> None:
        self.config = config
        self.request_timeout = request_timeout
        self.session = http.session(
            total_timeout=total_timeout, timeout=(5.0, request_timeout), backoff=backoff
        )
        self.session.verify = config.verify
        self.session.trust_env = False  # an in-cluster address never goes through HTTP(S)_PROXY
        if config.credentials.client_cert:
            self.session.cert = config.credentials.client_cert
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "pipekit"
        self._lock = threading.Lock()
        self._streams: list[requests.Response] = []
        self.closed = False

    def close(self) -> None:
        """Close the session and cut every open watch (their threads see the stream end)."""
        with self._lock:
            self.closed = True
            streams, self._streams = list(self._streams), []
        for response in streams:
            _cut(response)
        self.session.close()

    # -- requests ---------------------------------------------------------
    def _headers(self, force: bool = False) -> dict[str, str]:
        token = self.config.credentials.bearer(force=force)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _request(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        url = self.config.server + path
        kwargs: dict[str, Any] = {"params": params, "stream": stream}
        if timeout is not None:
            kwargs["timeout"] = timeout
        response = self.session.get(url, headers=self._headers(), **kwargs)
        if response.status_code == 401 and self.config.credentials.token_file is not None:
            response.close()
            log.debug("401 from %s: re-reading the token from %s", path, self.config.credentials.token_file)
            response = self.session.get(url, headers=self._headers(force=True), **kwargs)
        if response.status_code == 401:
            where = self.config.credentials.token_file or self.config.source or "the kubeconfig"
            response.close()
            raise AuthRejected(
                f"the Kubernetes API at {self.config.server} rejected the credentials from {where} (401)",
                hint="check the service account token (or the kubeconfig user) is current",
            )
        if response.status_code == 403:
            message = status_message(response)
            response.close()
            raise Forbidden(
                f"the Kubernetes API refused GET {path}: {message}",
                hint="give the Job's service account a Role with get, list and watch on "
                "deployments, replicasets, statefulsets, daemonsets and pods",
            )
        if response.status_code == 404:
            message = status_message(response)
            response.close()
            raise NotFound(f"GET {self.config.server}{path} answered 404: {message}")
        if response.status_code >= 400:
            message = status_message(response)
            response.close()
            raise ExternalError(f"GET {self.config.server}{path} answered {response.status_code}: {message}")
        return response

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        response = self._request(resource.path(namespace, name))
        return _json(response, resource.path(namespace, name))

    def list(
        self, resource: Resource, namespace: str, *, label_selector: str | None = None
    ) -> dict[str, Any]:
        """The ``...List`` object: ``items`` and ``metadata.resourceVersion`` (to watch from)."""
        params = {"labelSelector": label_selector} if label_selector else None
        path = resource.path(namespace)
        return _json(self._request(path, params), path)

    def watch(
        self,
        resource: Resource,
        namespace: str,
        resource_version: str,
        *,
        timeout_s: int = 300,
        label_selector: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The events of one watch request until the server ends it (``timeoutSeconds``) or :meth:`close`.

        Raises :class:`Expired` on a 410 ``ERROR`` event (list again).
        """
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        response = self._request(
            resource.path(namespace), params, stream=True, timeout=(5.0, timeout_s + self.request_timeout)
        )
        with self._lock:
            if self.closed:  # closed while this request was on its way
                response.close()
                return
            self._streams.append(response)
        try:
            for line in response.iter_lines(chunk_size=None):
                if not line:
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise Expired(status.get("message") or "resource version too old")
                    raise ExternalError(
                        f"watch {resource.plural} in {namespace}: {status.get('message') or status}"
                    )
                yield event
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            AttributeError,
            OSError,
        ) as exc:
            log.debug("watch %s ended: %s", resource.plural, type(exc).__name__)
        finally:
            with self._lock:
                if response in self._streams:
                    self._streams.remove(response)
            response.close()


def _json(response: requests.Response, path: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ExternalError(f"GET {path}: the Kubernetes API answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise ExternalError(
            f"GET {path}: the Kubernetes API answered a JSON {type(body).__name__}, not an object"
        )
    return body


def _cut(response: requests.Response) -> None:
    """Shut the socket under a streaming response so a thread blocked reading it wakes up."""
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()
