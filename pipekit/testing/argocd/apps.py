"""Application objects for the Argo CD stand-in, in the wire shape of Argo CD's REST API.

A scenario describes an app by a small *shorthand* state (:data:`DEFAULTS` lists the keys);
:class:`AppModel` turns each shorthand into a full ``v1alpha1Application`` JSON object with
the times Argo CD would write (RFC3339, seconds), keeping ``startedAt``/``finishedAt`` and
``metadata.resourceVersion`` consistent across changes.
"""

from __future__ import annotations

import copy
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

TERMINAL = ("Succeeded", "Failed", "Error")

DEFAULTS: dict[str, Any] = {
    "revision": "0" * 40,  # status.sync.revision
    "sync": "Synced",  # status.sync.status
    "health": "Healthy",  # status.health.status
    "health_message": "",
    "op_revision": None,  # syncResult/operation revision: set at creation and when a new operation starts
    # (phase Running after a finished one) to the then current `revision`; give it to override
    "phase": "Succeeded",  # operationState.phase; None: no operationState at all
    "message": "successfully synced (all tasks run)",
    "retry_count": 0,
    "hooks": [],  # [{"name", "kind": "Job", "type": "PostSync", "phase", "message", "namespace"}]
    "resources": [],  # [{"kind", "name", "namespace", "group", "version", "images"}]
    "auto_sync": True,  # spec.syncPolicy.automated present
    "pending_operation": False,  # a top-level `operation` waiting to be picked up
    "reconciled": "after",  # "after": reconciledAt >= finishedAt; "before": the stale moment after a sync
    "namespace": "",  # destination namespace (default: the app name)
    "repo_url": "https://git.example.com/gitops.git",
    "path": "",
    "patch": None,  # deep-merged into the generated object last
}


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` merged into a copy of ``base``; a None value deletes the key."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class AppModel:
    """One application: the current shorthand and the JSON built from it."""

    def __init__(
        self, name: str, project: str = "default", app_namespace: str = "argocd", **state: Any
    ) -> None:
        self.name = name
        self.project = project
        self.app_namespace = app_namespace
        self.uid = str(uuid.uuid4())
        self.created = rfc3339(datetime.now(timezone.utc))
        self.state: dict[str, Any] = dict(DEFAULTS)
        self.resource_version = 1000
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.changed_at = time.monotonic()
        self._json: dict[str, Any] = {}
        self.apply(state)

    def apply(self, patch: dict[str, Any]) -> None:
        """Move to a new state: the old shorthand with ``patch`` on top."""
        unknown = set(patch) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown app state keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        old = dict(self.state)
        new = {**old, **patch}
        if not patch.get("op_revision"):
            # Pinned: the operation's revision moves only when a new operation starts.
            starts = patch.get("phase") == "Running" and old.get("phase") in TERMINAL
            new["op_revision"] = (
                new["revision"] if (not old.get("op_revision") or starts) else old["op_revision"]
            )
        now = datetime.now(timezone.utc)
        old_phase, phase = old.get("phase"), new.get("phase")
        old_op = old.get("op_revision") or old.get("revision")
        op = new.get("op_revision") or new.get("revision")
        new_op = (
            self.started_at is None
            or op != old_op
            or (phase == "Running" and old_phase in TERMINAL and not new.get("retry_count"))
        )
        if new_op:
            self.started_at, self.finished_at = now, None
        if phase in TERMINAL and (old_phase not in TERMINAL or new_op or self.finished_at is None):
            self.finished_at = now
        if phase == "Running" and new.get("retry_count") and new.get("retry_count") != old.get("retry_count"):
            self.finished_at = now  # an automated retry: Running again with finishedAt filled
        self.state = new
        self.resource_version += 1
        self.changed_at = time.monotonic()
        self._json = self._build(now)

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self._json)

    def _build(self, now: datetime) -> dict[str, Any]:
        s = self.state
        rev = s["revision"]
        op_rev = s.get("op_revision") or rev
        dest_ns = s.get("namespace") or self.name
        source = {
            "repoURL": s["repo_url"],
            "path": s.get("path") or f"overlays/{self.name}",
            "targetRevision": "HEAD",
        }
        resources = [
            {
                "group": r.get("group", "apps"),
                "version": r.get("version", "v1"),
                "kind": r.get("kind", "Deployment"),
                "namespace": r.get("namespace", dest_ns),
                "name": r["name"],
                "status": "Synced",
                "message": f"{r.get('kind', 'deployment').lower()}.apps/{r['name']} configured",
                "syncPhase": "Sync",
                "hookPhase": "Running" if s.get("phase") == "Running" else "Succeeded",
                **({"images": r["images"]} if r.get("images") else {}),
            }
            for r in s.get("resources") or []
        ]
        hooks = [
            {
                "group": "batch",
                "version": "v1",
                "kind": h.get("kind", "Job"),
                "namespace": h.get("namespace", dest_ns),
                "name": h["name"],
                "status": "Synced",
                "message": h.get("message", ""),
                "hookType": h.get("type", "PostSync"),
                "hookPhase": h.get("phase", "Running"),
                "syncPhase": h.get("type", "PostSync"),
            }
            for h in s.get("hooks") or []
        ]
        status: dict[str, Any] = {
            "sync": {
                "status": s["sync"],
                "revision": rev,
                "comparedTo": {
                    "source": source,
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": dest_ns},
                },
            },
            "health": {
                "status": s["health"],
                **({"message": s["health_message"]} if s["health_message"] else {}),
            },
            "resources": [
                {
                    "group": r["group"],
                    "version": r["version"],
                    "kind": r["kind"],
                    "namespace": r["namespace"],
                    "name": r["name"],
                    "status": s["sync"],
                    "health": {"status": s["health"]},
                }
                for r in resources
            ],
            "sourceType": "Kustomize",
            "summary": {"images": sorted({i for r in resources for i in r.get("images", [])})},
            "controllerNamespace": self.app_namespace,
        }
        reconciled = now
        if s.get("phase"):
            op_state: dict[str, Any] = {
                "operation": {
                    "sync": {"revision": op_rev, "syncStrategy": {"hook": {}}},
                    "initiatedBy": {"automated": True},
                    "retry": {"limit": 5},
                },
                "phase": s["phase"],
                "message": s.get("message") or "",
                "startedAt": rfc3339(self.started_at or now),
                "syncResult": {"revision": op_rev, "source": source, "resources": resources + hooks},
            }
            if s.get("retry_count"):
                op_state["retryCount"] = int(s["retry_count"])
            if self.finished_at is not None:
                op_state["finishedAt"] = rfc3339(self.finished_at)
                if s.get("reconciled") == "before":
                    reconciled = self.finished_at - timedelta(seconds=5)
            status["operationState"] = op_state
            if s.get("phase") == "Succeeded":
                status["history"] = [
                    {
                        "id": 1,
                        "revision": op_rev,
                        "deployedAt": rfc3339(self.finished_at or now),
                        "source": source,
                        "deployStartedAt": rfc3339(self.started_at or now),
                    }
                ]
        status["reconciledAt"] = rfc3339(reconciled)
        app: dict[str, Any] = {
            "metadata": {
                "name": self.name,
                "namespace": self.app_namespace,
                "uid": self.uid,
                "resourceVersion": str(self.resource_version),
                "generation": 1,
                "creationTimestamp": self.created,
            },
            "spec": {
                "project": self.project,
                "source": source,
                "destination": {"server": "https://kubernetes.default.svc", "namespace": dest_ns},
                "syncPolicy": (
                    {"automated": {"prune": True, "selfHeal": True}, "retry": {"limit": 5}}
                    if s.get("auto_sync", True)
                    else {}
                ),
            },
            "status": status,
        }
        if s.get("pending_operation"):
            app["operation"] = {
                "sync": {"revision": rev, "syncStrategy": {"hook": {}}},
                "initiatedBy": {"username": "admin"},
                "retry": {},
            }
        if s.get("patch"):
            app = deep_merge(app, s["patch"])
        return app
