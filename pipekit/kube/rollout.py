"""Is a workload really ready? Pure judgements over Kubernetes objects (dicts as the API returns them).

Deployments, StatefulSets and DaemonSets follow ``kubectl rollout status`` (kubectl's
``polymorphichelpers/rollout_status.go``), word for word where it prints a message:

- Deployment: ``metadata.generation <= status.observedGeneration`` (else "Waiting for deployment
  spec update to be observed"); a ``Progressing`` condition with reason ``ProgressDeadlineExceeded``
  is a stalled rollout (a failure, not a wait); ``status.updatedReplicas >= spec.replicas``;
  ``status.replicas <= status.updatedReplicas`` (no old replicas); ``status.availableReplicas >=
  status.updatedReplicas``.
- StatefulSet (RollingUpdate only): generation observed (and not 0); ``readyReplicas >= spec.replicas``;
  with a partition ``updatedReplicas >= replicas - partition``; else ``updateRevision == currentRevision``.
- DaemonSet (RollingUpdate only): generation observed; ``updatedNumberScheduled >= desiredNumberScheduled``;
  ``numberAvailable >= desiredNumberScheduled``.

A Pod is ready with condition ``Ready=True``, unless (Kubernetes 1.33+) the condition's
``observedGeneration`` (else ``status.observedGeneration``) is below ``metadata.generation``: that
Ready is stale, and ``kubectl wait --for=condition=Ready`` keeps waiting too.

pipekit adds what kubectl and Argo CD miss: a Deployment is ready only once no pod of an *old*
ReplicaSet is left (terminating pods still serve traffic until they exit, so tests would hit the
old version). And a pod of the workload whose container waits in ImagePullBackOff, ErrImagePull
or CrashLoopBackOff fails the wait at once, naming pod, container and reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

FAIL_FAST_REASONS = (
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
)
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Verdict:
    ready: bool
    message: str  # kubectl's wording while waiting, or what holds when ready
    failure: str | None = None  # set when waiting longer cannot help (stalled, image pull, crash loop)
    idle: bool = False  # ready because scaled to 0 replicas: nothing runs, nothing to test


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def describe_conditions(obj: Obj) -> str:
    """``Progressing=True (NewReplicaSetAvailable), Available=False (MinimumReplicasUnavailable)``."""
    parts = []
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict):
            reason = f" ({cond['reason']})" if cond.get("reason") else ""
            parts.append(f"{cond.get('type')}={cond.get('status')}{reason}")
    return ", ".join(parts)


def deployment(dep: Obj) -> Verdict:
    name, spec, status = _meta(dep).get("name", "?"), dep.get("spec") or {}, dep.get("status") or {}
    if _int(_meta(dep).get("generation")) > _int(status.get("observedGeneration")):
        return Verdict(False, "Waiting for deployment spec update to be observed...")
    progressing = condition(dep, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = progressing.get("message") or "no progress within progressDeadlineSeconds"
        return Verdict(
            False,
            f"deployment {name!r} exceeded its progress deadline",
            failure=f"deployment {name!r} exceeded its progress deadline: {message}",
        )
    replicas = spec.get("replicas", 1)
    updated, total = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if isinstance(replicas, int) and updated < replicas:
        return Verdict(
            False,
            f"Waiting for deployment {name!r} rollout to finish: "
            f"{updated} out of {replicas} new replicas have been updated...",
        )
    if total > updated:
        return Verdict(
            False,
            f"Waiting for deployment {name!r} rollout to finish: "
            f"{total - updated} old replicas are pending termination...",
        )
    if available < updated:
        return Verdict(
            False,
            f"Waiting for deployment {name!r} rollout to finish: "
            f"{available} of {updated} updated replicas are available...",
        )
    if replicas == 0:
        return Verdict(True, f"deployment {name!r} is scaled to 0 replicas", idle=True)
    return Verdict(True, f"deployment {name!r} successfully rolled out")


def statefulset(sts: Obj) -> Verdict:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return Verdict(
            False,
            "rollout status is only available for RollingUpdate strategy type",
            failure=f"statefulset {_meta(sts).get('name')!r} uses {strategy.get('type')}: "
            "rollout status is only available for the RollingUpdate strategy type",
        )
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(_meta(sts).get("generation")) > observed:
        return Verdict(False, "Waiting for statefulset spec update to be observed...")
    replicas = spec.get("replicas", 1)
    ready = _int(status.get("readyReplicas"))
    if isinstance(replicas, int) and ready < replicas:
        return Verdict(False, f"Waiting for {replicas - ready} pods to be ready...")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict) and isinstance(rolling.get("partition"), int) and isinstance(replicas, int):
        updated = _int(status.get("updatedReplicas"))
        if updated < replicas - rolling["partition"]:
            return Verdict(
                False,
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{replicas - rolling['partition']} new pods have been updated...",
            )
        return Verdict(True, f"partitioned roll out complete: {updated} new pods have been updated...")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Verdict(
            False,
            f"waiting for statefulset rolling update to complete {_int(status.get('updatedReplicas'))} "
            f"pods at revision {status.get('updateRevision')}...",
        )
    return Verdict(
        True,
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at "
        f"revision {status.get('currentRevision')}...",
    )


def daemonset(ds: Obj) -> Verdict:
    name, spec, status = _meta(ds).get("name", "?"), ds.get("spec") or {}, ds.get("status") or {}
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        return Verdict(
            False,
            "rollout status is only available for RollingUpdate strategy type",
            failure=f"daemon set {name!r} uses {strategy}: rollout status is only available for "
            "the RollingUpdate strategy type",
        )
    if _int(_meta(ds).get("generation")) > _int(status.get("observedGeneration")):
        return Verdict(False, "Waiting for daemon set spec update to be observed...")
    desired = _int(status.get("desiredNumberScheduled"))
    updated, available = _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable"))
    if updated < desired:
        return Verdict(
            False,
            f"Waiting for daemon set {name!r} rollout to finish: "
            f"{updated} out of {desired} new pods have been updated...",
        )
    if available < desired:
        return Verdict(
            False,
            f"Waiting for daemon set {name!r} rollout to finish: "
            f"{available} of {desired} updated pods are available...",
        )
    return Verdict(True, f"daemon set {name!r} successfully rolled out")


def pod(p: Obj) -> Verdict:
    name, status = _meta(p).get("name", "?"), p.get("status") or {}
    failure = pod_failure(p)
    if failure:
        return Verdict(False, failure, failure=failure)
    if _meta(p).get("deletionTimestamp"):
        return Verdict(False, f"pod {name!r} is terminating")
    if status.get("phase") == "Failed":
        reason = status.get("reason") or status.get("message") or "phase Failed"
        return Verdict(False, f"pod {name!r} failed: {reason}", failure=f"pod {name!r} failed: {reason}")
    ready = condition(p, "Ready")
    generation = _meta(p).get("generation")
    if ready is not None and ready.get("status") == "True" and isinstance(generation, int):
        # Kubernetes 1.33+: a Ready condition observed at an older generation of the pod is stale.
        observed = ready.get("observedGeneration", status.get("observedGeneration"))
        if isinstance(observed, int) and observed < generation:
            return Verdict(
                False,
                f"Waiting for pod {name!r} to be Ready at generation {generation} "
                f"(its Ready condition is from generation {observed})",
            )
    if ready is not None and ready.get("status") == "True":
        return Verdict(True, f"pod {name!r} is Ready")
    return Verdict(
        False,
        f"Waiting for pod {name!r} to be Ready (phase {status.get('phase') or 'Pending'}"
        + (f", {describe_conditions(p)}" if describe_conditions(p) else "")
        + ")",
    )


def pod_failure(p: Obj) -> str | None:
    """``pod orders-7d9-x container app: ImagePullBackOff (Back-off pulling image "...")``, or None."""
    status = p.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            waiting = ((cs or {}).get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAIL_FAST_REASONS:
                message = f" ({waiting['message']})" if waiting.get("message") else ""
                return (
                    f"pod {_meta(p).get('name')!r} container {cs.get('name')!r}: {waiting['reason']}{message}"
                )
    return None


def owned_by(obj: Obj, kind: str, uid: str | None, name: str) -> bool:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("kind") == kind and (
            ref.get("uid") == uid if uid and ref.get("uid") else ref.get("name") == name
        ):
            return True
    return False


def replicasets_of(dep: Obj, replicasets: Iterable[Obj]) -> list[Obj]:
    meta = _meta(dep)
    return [rs for rs in replicasets if owned_by(rs, "Deployment", meta.get("uid"), meta.get("name", ""))]


def new_replicaset(dep: Obj, owned: list[Obj]) -> Obj | None:
    """The ReplicaSet of the Deployment's current revision (the revision annotation both carry)."""
    revision = (_meta(dep).get("annotations") or {}).get(REVISION)
    if revision is None:
        return None
    for rs in owned:
        if (_meta(rs).get("annotations") or {}).get(REVISION) == revision:
            return rs
    return None


def matches(selector: Obj | None, labels: Obj | None) -> bool:
    """``spec.selector`` (matchLabels and matchExpressions) against an object's labels."""
    if not selector:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def pods_of(workload: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The pods the workload's selector picks."""
    selector = (workload.get("spec") or {}).get("selector")
    return [p for p in pods if matches(selector, _meta(p).get("labels"))]


def deployment_ready(dep: Obj, replicasets: Iterable[Obj], pods: Iterable[Obj]) -> Verdict:
    """kubectl's verdict, then: the pods of the new ReplicaSet fail fast, no pod of an old one is left."""
    owned = replicasets_of(dep, replicasets)
    new = new_replicaset(dep, owned)
    new_name = _meta(new).get("name") if new else None
    mine = pods_of(dep, pods)
    for p in mine:  # only the new revision's pods: an old pod crash-looping is what the rollout replaces
        if new_name and owned_by(p, "ReplicaSet", None, new_name):
            failure = pod_failure(p)
            if failure:
                return Verdict(False, failure, failure=failure)
    verdict = deployment(dep)
    if not verdict.ready:
        return verdict
    if new is None:
        return Verdict(
            False,
            f"Waiting for the ReplicaSet of deployment {_meta(dep).get('name')!r} revision "
            f"{(_meta(dep).get('annotations') or {}).get(REVISION, '?')}...",
        )
    old_names = {_meta(rs).get("name") for rs in owned if rs is not new}
    old = sorted(
        _meta(p).get("name", "?")
        for p in mine
        if any(owned_by(p, "ReplicaSet", None, n) for n in old_names if n)
    )
    if old:
        terminating = [
            n
            for n in old
            if any(_meta(p).get("name") == n and _meta(p).get("deletionTimestamp") for p in mine)
        ]
        what = "still terminating" if len(terminating) == len(old) else "still present"
        return Verdict(
            False,
            f"Waiting for deployment {_meta(dep).get('name')!r}: {len(old)} pod(s) of an old "
            f"ReplicaSet {what}: {', '.join(old[:5])}",
        )
    return verdict


def workload_pods_failure(workload: Obj, pods: Iterable[Obj]) -> str | None:
    for p in pods_of(workload, pods):
        failure = pod_failure(p)
        if failure:
            return failure
    return None
