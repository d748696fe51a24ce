"""Wait until workloads are really ready: a list + watch mirror per resource type, judged on every event.

One :class:`Mirror` thread per resource type the targets need (deployments, replicasets, pods, ...)
lists the namespace, then watches from the list's ``resourceVersion`` and keeps a copy of every
object; when a watch cannot be had (an old API server, a proxy that buffers, errors) it polls the
list every ``poll_interval`` instead. Each change wakes the waiter, which judges every target with
:mod:`pipekit.kube.rollout`. So the wait ends within milliseconds of the last condition holding,
and costs nothing while nothing changes (threads sleep in a socket read).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pipekit.clients.kubernetes import (
    DAEMONSETS,
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    STATEFULSETS,
    AuthRejected,
    Expired,
    Forbidden,
    KubernetesClient,
    NotFound,
    Resource,
)
from pipekit.core.errors import BadInput, CheckFailed, ExternalError, PipekitError, TimedOut
from pipekit.kube import rollout
from pipekit.kube.targets import NEEDS, Target

log = logging.getLogger("pipekit.kube")
Progress = Callable[[Target, rollout.Verdict], None]


class Mirror(threading.Thread):
    """The objects of one resource type in one namespace, kept current by watch (or poll)."""

    def __init__(
        self,
        client: KubernetesClient,
        resource: Resource,
        namespace: str,
        changed: threading.Condition,
        *,
        watch: bool = True,
        poll_interval: float = 2.0,
        watch_timeout_s: int = 60,
    ) -> None:
        super().__init__(name=f"kube-mirror-{resource.plural}", daemon=True)
        self.client, self.resource, self.namespace = client, resource, namespace
        self.changed = changed
        self.use_watch = watch
        self.poll_interval = poll_interval
        self.watch_timeout_s = watch_timeout_s
        self.items: dict[str, dict[str, Any]] = {}
        self.synced = False
        self.error: PipekitError | None = None
        self.last_error: PipekitError | None = None  # the latest failure, while it keeps trying
        self.watching = False
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def _publish(
        self, items: dict[str, dict[str, Any]] | None = None, event: dict[str, Any] | None = None
    ) -> None:
        with self.changed:
            if items is not None:
                self.items = items
                self.synced = True
            if event is not None:
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name")
                if name and event.get("type") in ("ADDED", "MODIFIED"):
                    self.items = {**self.items, name: obj}
                elif name and event.get("type") == "DELETED":
                    self.items = {k: v for k, v in self.items.items() if k != name}
            self.changed.notify_all()

    def _list(self) -> str:
        listed = self.client.list(self.resource, self.namespace)
        items = {(i.get("metadata") or {}).get("name", ""): i for i in listed.get("items") or []}
        self._publish(items)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                version = self._list()
                failures = 0
                while self.use_watch and not self.stopping.is_set():
                    self.watching = True
                    for event in self.client.watch(
                        self.resource, self.namespace, version, timeout_s=self.watch_timeout_s
                    ):
                        if self.stopping.is_set():
                            return
                        version = str(
                            ((event.get("object") or {}).get("metadata") or {}).get("resourceVersion")
                            or version
                        )
                        if event.get("type") != "BOOKMARK":
                            self._publish(event=event)
                if not self.use_watch:
                    self.stopping.wait(self.poll_interval)
            except Expired:
                continue  # list again
            except (AuthRejected, Forbidden) as exc:
                self.error = exc
                self._publish()
                return
            except NotFound as exc:  # the API has no such resource type: waiting cannot help
                self.error = ExternalError(
                    f"the Kubernetes API cannot list {self.resource.plural}: {exc.message}",
                    hint="is the server a Kubernetes API (KUBECONFIG, --context)?",
                )
                self._publish()
                return
            except BadInput as exc:  # a token file that went bad on a re-read
                self.error = exc
                self._publish()
                return
            except (PipekitError, OSError, ValueError) as exc:
                failures += 1
                why = exc.message if isinstance(exc, PipekitError) else f"{type(exc).__name__}: {exc}"
                self.last_error = ExternalError(f"GET {self.resource.path(self.namespace)}: {why}")
                if self.use_watch and self.watching:
                    log.debug(
                        "watch of %s failed (%s): polling every %ss",
                        self.resource.plural,
                        exc,
                        self.poll_interval,
                    )
                    self.use_watch = False
                if failures >= 5 and not self.synced:
                    self.error = self.last_error
                    self._publish()
                    if self.error is not None:
                        return
                self.stopping.wait(self.poll_interval)
            finally:
                self.watching = False


def judge(target: Target, mirrors: dict[str, Mirror]) -> rollout.Verdict | None:
    """The target's verdict now, or None when it does not exist."""
    pods = list(mirrors[PODS.plural].items.values()) if PODS.plural in mirrors else []
    obj = mirrors[target.resource.plural].items.get(target.name)
    if obj is None:
        return None
    if target.kind == "Deployment":
        return rollout.deployment_ready(obj, mirrors[REPLICASETS.plural].items.values(), pods)
    if target.kind == "Pod":
        return rollout.pod(obj)
    failure = rollout.workload_pods_failure(obj, pods)
    if failure:
        return rollout.Verdict(False, failure, failure=failure)
    return rollout.statefulset(obj) if target.kind == "StatefulSet" else rollout.daemonset(obj)


class Waiter:
    """``Waiter(client, "shop", targets).wait(timeout=300)`` -> the final verdict of every target."""

    def __init__(
        self,
        client: KubernetesClient,
        namespace: str,
        targets: list[Target],
        *,
        watch: bool = True,
        poll_interval: float = 2.0,
        on_progress: Progress | None = None,
        watch_timeout_s: int = 60,
    ) -> None:
        self.client, self.namespace, self.targets = client, namespace, targets
        self.changed = threading.Condition()
        resources = {r.plural: r for t in targets for r in NEEDS[t.kind]}
        order = [DEPLOYMENTS, STATEFULSETS, DAEMONSETS, REPLICASETS, PODS]
        self.mirrors = {
            r.plural: Mirror(
                client,
                r,
                namespace,
                self.changed,
                watch=watch,
                poll_interval=poll_interval,
                watch_timeout_s=watch_timeout_s,
            )
            for r in order
            if r.plural in resources
        }
        self.on_progress = on_progress
        self.verdicts: dict[Target, rollout.Verdict] = {}
        self.ready_at: float | None = None  # monotonic time the last condition was seen holding

    def stop(self) -> None:
        for mirror in self.mirrors.values():
            mirror.stop()
        self.client.close()

    def wait(self, timeout: float, *, said: float | None = None) -> dict[Target, rollout.Verdict]:
        """``said``: the timeout as the user gave it (when part of it was spent before), for the message."""
        deadline = time.monotonic() + timeout
        for mirror in self.mirrors.values():
            mirror.start()
        try:
            with self.changed:
                while True:
                    for mirror in self.mirrors.values():
                        if mirror.error is not None:
                            raise mirror.error
                    if all(m.synced for m in self.mirrors.values()) and self._judge_all():
                        self.ready_at = time.monotonic()
                        return dict(self.verdicts)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._timed_out(timeout if said is None else said)
                    self.changed.wait(left)
        finally:
            self.stop()

    def _judge_all(self) -> bool:
        ready = True
        for target in self.targets:
            verdict = judge(target, self.mirrors)
            if verdict is None:
                raise BadInput(
                    f"{target} not found in namespace {self.namespace!r}",
                    hint="check --wait-ready and --namespace (kubectl get "
                    f"{target.resource.plural} -n {self.namespace})",
                )
            if verdict != self.verdicts.get(target) and self.on_progress is not None:
                self.on_progress(target, verdict)
            self.verdicts[target] = verdict
            if verdict.failure:
                raise CheckFailed(
                    f"{target}: {verdict.failure}",
                    hint=f"kubectl describe {target.resource.plural} {target.name} -n {self.namespace}",
                )
            ready = ready and verdict.ready
        return ready

    def _timed_out(self, timeout: float) -> PipekitError:
        broken = [m.last_error for m in self.mirrors.values() if not m.synced and m.last_error is not None]
        if broken:  # never one answer from the API: that is its failure, not a workload's slowness
            first = broken[0]
            return ExternalError(
                f"the Kubernetes API failed every call for {timeout:g}s: {first.message}",
                hint="check the API server, the kubeconfig's server and --context (--debug shows "
                "the requests)",
            )
        waiting = []
        for target in self.targets:
            verdict = self.verdicts.get(target)
            if verdict is None:
                waiting.append(f"{target}: no state seen from the API")
            elif not verdict.ready:
                obj = self.mirrors[target.resource.plural].items.get(target.name) or {}
                conditions = rollout.describe_conditions(obj)
                waiting.append(f"{target}: {verdict.message}" + (f" [{conditions}]" if conditions else ""))
        return TimedOut(
            f"not ready after {timeout:g}s: " + "; ".join(waiting),
            hint="raise --ready-timeout, or kubectl describe the workload",
        )
