"""The demo service's API tests, as its PostSync Job runs them after every sync (``run.py``, no pytest).

They ask the cluster's API (the kubeconfig the Job is given, ``KUBECONFIG``) what the sync left
running: the service's Deployment available at the replicas it asked for, every pod of its
current ReplicaSet ready. ``DEMO_API_MIN_READY`` (default 1) is the fewest ready replicas
accepted: set it above the Deployment's replicas to rehearse a failing hook.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

SERVICE = os.environ.get("DEMO_SERVICE", "demo-service")


def _cluster() -> tuple[str, str, str]:
    with open(os.environ["KUBECONFIG"], encoding="utf-8") as f:
        config = json.load(f)
    context = config["contexts"][0]["context"]
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"]["token"]
    return server.rstrip("/"), token, context.get("namespace", "default")


def get(path: str) -> Any:
    server, token, _ = _cluster()
    request = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the Job's own cluster
        return json.load(answer)


def deployment() -> dict[str, Any]:
    namespace = _cluster()[2]
    found: dict[str, Any] = get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{SERVICE}")
    return found


def test_deployment_is_available_at_its_replicas() -> None:
    dep = deployment()
    status = dep["status"]
    available = {c["type"]: c["status"] for c in status.get("conditions", [])}.get("Available")
    assert available == "True", f"{SERVICE} is not Available: {status.get('conditions')}"
    assert status.get("readyReplicas") == dep["spec"]["replicas"], status
    least = int(os.environ.get("DEMO_API_MIN_READY", "1"))
    assert status["readyReplicas"] >= least, f"{status['readyReplicas']} ready replica(s), fewer than {least}"
    assert status.get("observedGeneration") == dep["metadata"]["generation"], "the rollout was not observed"


def test_every_pod_of_the_service_is_ready() -> None:
    namespace = _cluster()[2]
    labels = ",".join(f"{k}={v}" for k, v in deployment()["spec"]["selector"]["matchLabels"].items())
    pods = get(f"/api/v1/namespaces/{namespace}/pods?labelSelector={labels}")["items"]
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert running, f"no pod of {SERVICE} in {namespace}"
    for pod in running:
        ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}.get("Ready")
        assert ready == "True", f"pod {pod['metadata']['name']} is not ready"
