"""Deployment, ReplicaSet and Pod objects in the Kubernetes API's documented shapes (apps/v1, v1).

Builders only: :mod:`pipekit.testing.kubernetes.scenario` moves them over time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(*parts: str) -> str:
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()  # noqa: S324 (a stable fake uid, not security)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def template_hash(name: str, revision: int) -> str:
    return hashlib.sha1(f"{name}:{revision}".encode()).hexdigest()[:10]  # noqa: S324


def condition(kind: str, status: str, reason: str, message: str = "") -> Obj:
    at = now()
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
    }


def controller(kind: str, meta: Obj) -> Obj:
    """The owner reference to the apps/v1 ``kind`` whose metadata is ``meta``, as its controller."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int = 2,
    image: str = "app:1",
    revision: int = 1,
    generation: int = 1,
    app: str | None = None,
) -> Obj:
    labels = {"app": app or name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid(namespace, "deployment", name),
            "generation": generation,
            "labels": dict(labels),
            "creationTimestamp": now(),
            "annotations": {REVISION: str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": {
            "observedGeneration": generation,
            "replicas": 0,
            "updatedReplicas": 0,
            "readyReplicas": 0,
            "availableReplicas": 0,
            "unavailableReplicas": 0,
            "conditions": [],
        },
    }


def replicaset(dep: Obj, revision: int, *, replicas: int = 0, image: str | None = None) -> Obj:
    meta = dep["metadata"]
    pth = template_hash(meta["name"], revision)
    labels = {**dep["spec"]["selector"]["matchLabels"], "pod-template-hash": pth}
    name = f"{meta['name']}-{pth}"
    container = dict(dep["spec"]["template"]["spec"]["containers"][0])
    if image:
        container["image"] = image
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "uid": uid(meta["namespace"], "rs", name),
            "labels": dict(labels),
            "generation": 1,
            "creationTimestamp": now(),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
            },
            "ownerReferences": [controller("Deployment", meta)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
        "status": {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": 0,
            "availableReplicas": 0,
            "observedGeneration": 1,
        },
    }


def pod(rs: Obj, index: int, *, ready: bool = False, waiting: tuple[str, str] | None = None) -> Obj:
    meta = rs["metadata"]
    suffix = hashlib.sha1(f"{meta['name']}/{index}".encode()).hexdigest()[:5]  # noqa: S324
    name = f"{meta['name']}-{suffix}"
    container = rs["spec"]["template"]["spec"]["containers"][0]
    p: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "uid": uid(meta["namespace"], "pod", name),
            "labels": dict(rs["spec"]["template"]["metadata"]["labels"]),
            "creationTimestamp": now(),
            "ownerReferences": [controller("ReplicaSet", meta)],
        },
        "spec": {
            "containers": [dict(container)],
            "nodeName": "standin-node",
            "terminationGracePeriodSeconds": 30,
        },
        "status": {},
    }
    set_pod_state(p, ready=ready, waiting=waiting)
    return p


def set_pod_state(p: Obj, *, ready: bool, waiting: tuple[str, str] | None = None) -> Obj:
    """Running and Ready, Running not Ready, or a container waiting with (reason, message)."""
    container = p["spec"]["containers"][0]
    status: Obj = {
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": ready,
    }
    if waiting:
        status["state"] = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        if waiting[0] == "CrashLoopBackOff":
            status["restartCount"] = 3
            status["lastState"] = {
                "terminated": {"exitCode": 1, "reason": "Error", "startedAt": now(), "finishedAt": now()}
            }
    else:
        status["state"] = {"running": {"startedAt": now()}}
    flag = "True" if ready else "False"
    p["status"] = {
        "phase": "Pending" if waiting and waiting[0] in ("ImagePullBackOff", "ErrImagePull") else "Running",
        "hostIP": "10.0.0.1",
        "podIP": "10.1.0.1",
        "startTime": now(),
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now()},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now()},
            {"type": "Ready", "status": flag, "lastTransitionTime": now()},
        ],
        "containerStatuses": [status],
    }
    return p
