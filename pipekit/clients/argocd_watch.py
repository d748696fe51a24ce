"""Watch Argo CD apps two ways at once: the NDJSON watch stream and a periodic re-read.

A watch alone can miss the moment when operations interleave, and a stream can drop; a
poll alone is slow. Each app gets a daemon thread reading its stream (reconnecting with
backoff), and one daemon thread re-reads every app each ``poll_interval`` seconds. Both put
:class:`Event` objects on one queue that the caller drains. Nothing here keeps the process
alive: the threads are daemons, and :meth:`Watcher.stop` closes the open streams.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from pipekit.clients.argocd import AppNotFound, ArgoCDClient, AuthRejected, abort, iter_stream
from pipekit.core.errors import PipekitError
from pipekit.core.retry import backoff

log = logging.getLogger("pipekit.argocd")

APP, ERROR, FATAL = "app", "error", "fatal"
RECONNECT_BASE_S, RECONNECT_MAX_S = 0.1, 5.0


@dataclass
class Event:
    kind: str  # app | error (transient) | fatal (stop waiting)
    name: str
    source: str  # stream | poll
    app: dict[str, Any] | None = None
    error: BaseException | None = None
    at: float = field(default_factory=time.monotonic)


class Watcher:
    def __init__(
        self,
        client: ArgoCDClient,
        names: list[str],
        *,
        poll_interval: float = 3.0,
        stream: bool = True,
        project: str | None = None,
        app_namespace: str | None = None,
        idle_timeout: float = 60.0,
        request_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.names = list(names)
        self.poll_interval = poll_interval
        self.stream = stream
        self.project = project
        self.app_namespace = app_namespace
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._open: dict[str, requests.Response] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.stream:
            for name in self.names:
                self._spawn(self._stream_loop, name, f"argocd-stream-{name}")
        self._spawn(self._poll_loop, None, "argocd-poll")

    def _spawn(self, target: Any, arg: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=() if arg is None else (arg,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, join: float = 0.5) -> None:
        """Stop the threads and close every open stream (best effort, never blocks long)."""
        self._stop.set()
        with self._lock:
            responses = list(self._open.values())
            self._open.clear()
        for response in responses:
            abort(response)
        deadline = time.monotonic() + join
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- threads ------------------------------------------------------------
    def _put(self, event: Event) -> None:
        if not self._stop.is_set():
            self.events.put(event)

    def _stream_loop(self, name: str) -> None:
        failures = 0  # in a row: the reconnect waits grow with them (core.retry's full jitter)
        while not self._stop.is_set():
            response = None
            try:
                response = self.client.open_stream(
                    name,
                    project=self.project,
                    app_namespace=self.app_namespace,
                    idle_timeout=self.idle_timeout,
                )
                with self._lock:
                    if self._stop.is_set():
                        abort(response)
                        return
                    self._open[name] = response
                for app in iter_stream(response):
                    self._put(Event(APP, name, "stream", app=app))
                    failures = 0
                log.debug("stream of %s ended: reconnecting", name)
            except (AuthRejected, AppNotFound) as exc:
                self._put(Event(FATAL, name, "stream", error=exc))
                return
            except (PipekitError, requests.RequestException, OSError, ValueError, AttributeError) as exc:
                # dropped or reset stream, read timeout on a quiet app, refused connection
                if self._stop.is_set():
                    return
                log.debug("stream of %s failed (%s): reconnecting", name, type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - urllib3 protocol errors and the like: reconnect
                if self._stop.is_set():
                    return
                log.debug("stream of %s broke (%s)", name, type(exc).__name__)
            finally:
                with self._lock:
                    if self._open.get(name) is response:
                        self._open.pop(name, None)
                abort(response)  # None: nothing to close
            failures += 1
            if self._stop.wait(backoff(failures, RECONNECT_BASE_S, RECONNECT_MAX_S)):
                return

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            for name in self.names:
                if self._stop.is_set():
                    return
                try:
                    app = self.client.get_app(
                        name,
                        project=self.project,
                        app_namespace=self.app_namespace,
                        timeout=self.request_timeout,
                    )
                except (AuthRejected, AppNotFound) as exc:
                    self._put(Event(FATAL, name, "poll", error=exc))
                    return
                except Exception as exc:  # noqa: BLE001 - judged by the caller (unreachable after a while)
                    self._put(Event(ERROR, name, "poll", error=exc))
                    continue
                self._put(Event(APP, name, "poll", app=app))


def newer(app: dict[str, Any], than: dict[str, Any] | None) -> bool:
    """False when ``app`` is known to be older than ``than`` (numeric metadata.resourceVersion)."""
    if than is None:
        return True
    new = str((app.get("metadata") or {}).get("resourceVersion") or "")
    old = str((than.get("metadata") or {}).get("resourceVersion") or "")
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True
