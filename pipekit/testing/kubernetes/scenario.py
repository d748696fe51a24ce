"""A Deployment's rolling update on the stand-in, moving over time the way the controllers move it.

:class:`Rollout` creates revision 1 (a ReplicaSet with every pod Ready), then :meth:`Rollout.start`
plays an update to the next revision, one pod at a time (maxSurge 1, maxUnavailable 0):

1. the spec changes: ``metadata.generation`` goes up while ``status`` still describes the old,
   fully available revision (a check that ignores ``observedGeneration`` calls this ready);
2. the controller observes it: a new ReplicaSet, ``updatedReplicas`` 0;
3. per replica: a new pod (not Ready) -> Ready -> an old pod terminating (``deletionTimestamp``;
   no longer counted in ``status.replicas``, as the ReplicaSet controller does) -> gone;
4. the status is complete while the *last* old pod still terminates for ``linger`` seconds
   (kubectl rollout status and Argo CD already say done here), then it goes.

``stall=True`` stops after the first new pod and sets ``Progressing=False ProgressDeadlineExceeded``;
``waiting=("ImagePullBackOff", "...")`` leaves the first new pod's container waiting with that reason.
``completed_at`` is the monotonic time the last condition came to hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipekit.testing.kubernetes import objects
from pipekit.testing.kubernetes.server import KubernetesStandIn

Obj = dict[str, Any]


class Rollout:
    def __init__(
        self,
        kube: KubernetesStandIn,
        name: str,
        namespace: str = "default",
        *,
        replicas: int = 2,
        image: str = "app:1",
    ) -> None:
        self.kube, self.name, self.namespace, self.replicas = kube, name, namespace, replicas
        self.revision = 1
        self.dep = objects.deployment(name, namespace, replicas=replicas, image=image)
        self.rs = objects.replicaset(self.dep, 1, replicas=replicas)
        self.rs["status"].update(readyReplicas=replicas, availableReplicas=replicas)
        self.pods = [objects.pod(self.rs, i, ready=True) for i in range(replicas)]
        self._status(replicas=replicas, updated=replicas, available=replicas, reason="NewReplicaSetAvailable")
        kube.apply(self.dep, self.rs, *self.pods)
        self.completed_at: float | None = None
        self.old_pods: list[Obj] = []

    def _status(
        self,
        *,
        replicas: int,
        updated: int,
        available: int,
        reason: str,
        progressing: str = "True",
        message: str = "",
    ) -> None:
        name = self.dep["metadata"]["name"]
        status = self.dep["status"]
        status.update(
            replicas=replicas,
            updatedReplicas=updated,
            readyReplicas=available,
            availableReplicas=available,
            unavailableReplicas=max(0, replicas - available),
        )
        available_cond = objects.condition(
            "Available",
            "True" if available >= self.replicas else "False",
            "MinimumReplicasAvailable" if available >= self.replicas else "MinimumReplicasUnavailable",
            "Deployment has minimum availability.",
        )
        progress_cond = objects.condition(
            "Progressing",
            progressing,
            reason,
            message or f'ReplicaSet "{name}-{self.revision}" is progressing.',
        )
        status["conditions"] = [available_cond, progress_cond]

    def _update_dep(self, change: Callable[[Obj], None]) -> Callable[[], None]:
        def act() -> None:
            change(self.dep)
            self.kube.apply(self.dep)

        return act

    def start(
        self,
        *,
        step: float = 0.05,
        linger: float = 0.0,
        stall: bool = False,
        waiting: tuple[str, str] | None = None,
        image: str | None = None,
    ) -> None:
        """Play the update to the next revision in the stand-in's background thread."""
        self.kube.play(self.steps(step=step, linger=linger, stall=stall, waiting=waiting, image=image))

    def steps(
        self,
        *,
        step: float = 0.05,
        linger: float = 0.0,
        stall: bool = False,
        waiting: tuple[str, str] | None = None,
        image: str | None = None,
    ) -> list[tuple[float, Callable[[], None]]]:
        n = self.replicas
        old_rs, old_pods = self.rs, list(self.pods)
        revision = self.revision + 1
        image = image or f"app:{revision}"
        out: list[tuple[float, Callable[[], None]]] = []

        def spec_change(dep: Obj) -> None:
            dep["metadata"]["generation"] += 1
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = image

        out.append((0.0, self._update_dep(spec_change)))
        new_rs = objects.replicaset(self.dep, revision, replicas=0, image=image)
        new_pods = [objects.pod(new_rs, i) for i in range(n)]

        def observe() -> None:
            self.revision = revision
            self.dep["metadata"]["annotations"][objects.REVISION] = str(revision)
            self.dep["status"]["observedGeneration"] = self.dep["metadata"]["generation"]
            self._status(replicas=n, updated=0, available=n, reason="ReplicaSetUpdated")
            self.kube.apply(new_rs, self.dep)

        out.append((step, observe))
        for i in range(max(n, len(old_pods))):  # pod by pod; a change of replicas adds or removes the rest
            out.extend(
                self._replace_one(
                    i, step, old_rs, old_pods, new_rs, new_pods, linger=linger, stall=stall, waiting=waiting
                )
            )
            if stall or waiting:
                break
        if not n and not old_pods:  # no pods before or after: the new revision is complete at once

            def complete() -> None:
                self._status(
                    replicas=0,
                    updated=0,
                    available=0,
                    reason="NewReplicaSetAvailable",
                    message=f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.',
                )
                self.kube.apply(self.dep)
                self.completed_at = time.monotonic()

            out.append((step, complete))
        self.rs, self.pods = new_rs, new_pods
        return out

    def _replace_one(
        self,
        i: int,
        step: float,
        old_rs: Obj,
        old_pods: list[Obj],
        new_rs: Obj,
        new_pods: list[Obj],
        *,
        linger: float,
        stall: bool,
        waiting: tuple[str, str] | None,
    ) -> list[tuple[float, Callable[[], None]]]:
        n, m = self.replicas, len(old_pods)  # new and old pod counts (they differ when the replicas change)
        last = i == max(n, m) - 1
        out: list[tuple[float, Callable[[], None]]] = []
        if i >= n:  # fewer replicas than before: this old pod only goes
            return out + [
                (step, self._retire(i, old_rs, old_pods, new_rs, updated=n, last=last)),
                (linger if last else step, self._gone(old_pods[i], last)),
            ]

        def create() -> None:
            new_rs["spec"]["replicas"] = new_rs["status"]["replicas"] = i + 1
            if waiting:
                objects.set_pod_state(new_pods[i], ready=False, waiting=waiting)
            if i < m:  # a surge pod beside the old ones, which still serve
                self._status(replicas=n + 1, updated=i + 1, available=n, reason="ReplicaSetUpdated")
            else:  # scaling up: only the new pods ready so far serve
                self._status(replicas=i + 1, updated=i + 1, available=i, reason="ReplicaSetUpdated")
            self.kube.apply(new_rs, new_pods[i], self.dep)

        out.append((step, create))
        if stall:

            def stalled() -> None:
                self._status(
                    replicas=n + 1,
                    updated=i + 1,
                    available=n,
                    reason="ProgressDeadlineExceeded",
                    progressing="False",
                    message=f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.',
                )
                self.kube.apply(self.dep)

            out.append((step, stalled))
            return out
        if waiting:
            return out

        def ready() -> None:
            objects.set_pod_state(new_pods[i], ready=True)
            new_rs["status"].update(readyReplicas=i + 1, availableReplicas=i + 1)
            self.kube.apply(new_pods[i], new_rs)

        if i >= m:  # more replicas than before: this new pod has no old one to replace

            def settled() -> None:
                self._status(
                    replicas=n,
                    updated=i + 1,
                    available=i + 1,
                    reason="NewReplicaSetAvailable" if last else "ReplicaSetUpdated",
                    message=f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.'
                    if last
                    else "",
                )
                self.kube.apply(self.dep)
                if last:
                    self.completed_at = time.monotonic()

            return out + [(step, ready), (step, settled)]
        return out + [
            (step, ready),
            (step, self._retire(i, old_rs, old_pods, new_rs, updated=i + 1, last=last)),
            (linger if last else step, self._gone(old_pods[i], last)),
        ]

    def _retire(
        self, i: int, old_rs: Obj, old_pods: list[Obj], new_rs: Obj, *, updated: int, last: bool
    ) -> Callable[[], None]:
        n, m = self.replicas, len(old_pods)

        def terminate() -> None:
            # the old pod is terminating: the ReplicaSet no longer counts it, the Deployment neither
            old = old_pods[i]
            old["metadata"]["deletionTimestamp"] = objects.now()
            old["metadata"]["deletionGracePeriodSeconds"] = 30
            old_rs["spec"]["replicas"] = old_rs["status"]["replicas"] = m - i - 1
            old_rs["status"].update(readyReplicas=m - i - 1, availableReplicas=m - i - 1)
            if last:
                self._status(
                    replicas=n,
                    updated=n,
                    available=n,
                    reason="NewReplicaSetAvailable",
                    message=f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.',
                )
            else:
                self._status(replicas=n, updated=updated, available=n, reason="ReplicaSetUpdated")
            self.kube.apply(old, old_rs, self.dep)

        return terminate

    def _gone(self, pod: Obj, last: bool) -> Callable[[], None]:
        def gone() -> None:
            self.kube.delete(pod)
            if last:
                self.completed_at = time.monotonic()

        return gone
