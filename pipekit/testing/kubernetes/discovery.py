"""The legacy discovery documents kubectl reads before a ``get`` or ``rollout status`` (``/api``, ``/apis``,
``/api/v1``, ``/apis/apps/v1``), limited to the resources the stand-in serves."""

from __future__ import annotations

from typing import Any

_VERBS = ["get", "list", "watch"]


def _resource(name: str, kind: str, short: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": True,
        "kind": kind,
        "verbs": _VERBS,
        "shortNames": short,
    }


DOCUMENTS: dict[str, dict[str, Any]] = {
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    },
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "apps",
                "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
            }
        ],
    },
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [_resource("pods", "Pod", ["po"])],
    },
    "/apis/apps/v1": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            _resource("deployments", "Deployment", ["deploy"]),
            _resource("replicasets", "ReplicaSet", ["rs"]),
            _resource("statefulsets", "StatefulSet", ["sts"]),
            _resource("daemonsets", "DaemonSet", ["ds"]),
        ],
    },
}


def document(path: str) -> dict[str, Any] | None:
    return DOCUMENTS.get(path.rstrip("/") or "/")
