"""Make the Argo CD stand-in follow a local GitOps repository, as Argo CD follows a remote one.

On a refresh (and every ``poll`` seconds) it reads the branch head with ``git rev-parse``; a
new head is rendered with ``kubectl kustomize`` (the renderer is configurable) from a
``git archive`` of that commit, and the app walks through what an auto-synced Argo CD app shows:

OutOfSync -> operation Running, Progressing -> Synced, PostSync hook Job Running -> hook
Succeeded, operation Succeeded, Healthy. A render failure ends the operation Failed with the
renderer's message. A new head that renders the app exactly as the last sync did (a commit to
another app's folder) is no change for Argo CD's auto-sync: the app shows the new revision,
Synced, and no operation or hook runs. Hooks are the rendered resources annotated ``argocd.argoproj.io/hook``;
without any, a PostSync Job ``<app>-smoke-test`` stands in. A hook annotated
``pipekit.dev/standin-result: Failed`` fails, for rehearsing a broken smoke test.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.clients.git import Git
from pipekit.core import process, yamlload
from pipekit.testing.argocd.server import ArgoCDStandIn

log = logging.getLogger("pipekit.testing.argocd")
HookRunner = Callable[[str, str, dict[str, Any], list[dict[str, Any]]], tuple[str, str]]
HOOK_ANNOTATION = "argocd.argoproj.io/hook"
RESULT_ANNOTATION = "pipekit.dev/standin-result"


@dataclass
class FollowedApp:
    name: str
    repo: Path
    overlay: str
    branch: str = "main"


class GitOpsFollower:
    def __init__(
        self,
        standin: ArgoCDStandIn,
        *,
        step: float = 0.5,
        poll: float = 3.0,
        renderer: tuple[str, ...] = ("kubectl", "kustomize"),
        hook_runner: HookRunner | None = None,
    ) -> None:
        """``hook_runner(app, revision, hook, resources) -> (phase, message)`` runs each hook for real
        (see :class:`pipekit.testing.argocd.hooks.PostSyncRunner`); without it hooks end after ``step``."""
        self.standin = standin
        self.hook_runner = hook_runner
        self.step = step
        self.poll = poll
        self.renderer = renderer
        self.apps: dict[str, FollowedApp] = {}
        self.target: dict[str, str] = {}  # app -> revision being or last deployed
        self.synced: dict[str, str] = {}  # app -> the render its last sync applied
        self._lock = threading.Lock()
        standin.on_refresh = lambda name, _kind: self.refresh(name)
        standin.on_sync = lambda name, body: self.refresh(name, force=str(body.get("revision") or "") or None)

    def follow(
        self, name: str, repo: str | Path, overlay: str, branch: str = "main", project: str = "default"
    ) -> None:
        """Serve app ``name`` (of Argo CD ``project``) from ``overlay`` of ``repo`` (bare or not) on
        ``branch``; deploy the head now."""
        app = FollowedApp(name, Path(repo), overlay.strip("/"), branch)
        head = self.head(app)
        rendered = self.render(app, head)
        resources = rendered[0] if isinstance(rendered, tuple) else []
        if isinstance(rendered, tuple):
            self.synced[name] = json.dumps(rendered, sort_keys=True, default=str)
        self.standin.add_app(
            name,
            project=project,
            revision=head,
            path=app.overlay,
            repo_url=str(app.repo),
            resources=resources,
        )
        self.target[name] = head
        self.apps[name] = app  # followed from now on (the poll loop sees it only once the stand-in has it)

    def start(self) -> GitOpsFollower:
        threading.Thread(target=self._poll_loop, name="gitops-follower", daemon=True).start()
        return self

    def _poll_loop(self) -> None:
        while not self.standin.stopping.wait(self.poll):
            for name in list(self.apps):
                self.refresh(name)

    def head(self, app: FollowedApp) -> str:
        out = Git(app.repo, os.environ).run("rev-parse", f"refs/heads/{app.branch}", check=False)
        if out.returncode != 0:
            raise ValueError(f"{app.repo}: no branch {app.branch!r}: {out.stderr.strip()}")
        return out.stdout.strip()

    def render(
        self, app: FollowedApp, revision: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | str:
        """(resources, hooks) rendered at ``revision``, or the error text."""
        with tempfile.TemporaryDirectory(prefix="argocd-standin-") as tmp:
            tree = Path(tmp) / "tree"
            archive = Git(app.repo, os.environ).run(
                "archive", "--format=tar", "-o", f"{tmp}/tree.tar", revision, check=False
            )
            if archive.returncode != 0:
                return f"git archive {revision[:7]}: {archive.stderr.strip()}"
            with tarfile.open(f"{tmp}/tree.tar") as tar:
                if hasattr(
                    tarfile, "data_filter"
                ):  # Python 3.11.4+; Debian bookworm's (the image's) is 3.11.2
                    tar.extractall(tree, filter="data")
                else:  # our own git archive of our own repository
                    tar.extractall(tree)  # noqa: S202
            overlay = tree / app.overlay
            if not overlay.is_dir():
                return f"app path does not exist: {app.overlay}"
            out = process.run([*self.renderer, str(overlay)], check=False, timeout=120)
        if out.returncode != 0:
            first = (out.stderr.strip().splitlines() or ["render failed"])[-1]
            return f"ComparisonError: failed to render {app.overlay}: {first}"
        resources, hooks = [], []
        for doc in yamlload.load_all(out.stdout, f"rendered {app.overlay}"):
            if not isinstance(doc, dict):
                continue
            meta = doc.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            item = {
                "kind": doc.get("kind", ""),
                "name": meta.get("name", ""),
                "group": str(doc.get("apiVersion", "v1")).rpartition("/")[0],
                "version": str(doc.get("apiVersion", "v1")).rpartition("/")[2],
                "images": _images(doc),
            }
            if meta.get("namespace"):
                item["namespace"] = meta["namespace"]
            if doc.get("kind") == "Deployment":  # for a hook runner rolling it out (Kubernetes' default: 1)
                replicas = (doc.get("spec") or {}).get("replicas")
                item["replicas"] = replicas if isinstance(replicas, int) else 1
            if HOOK_ANNOTATION in annotations:
                item["type"] = str(annotations[HOOK_ANNOTATION]).split(",")[0].strip()
                item["result"] = annotations.get(RESULT_ANNOTATION, "Succeeded")
                item["manifest"] = doc  # for a hook runner: the Job's containers, args and env
                hooks.append(item)
            else:
                resources.append(item)
        return resources, hooks

    def refresh(self, name: str, force: str | None = None) -> None:
        """Look at the branch head; deploy a new revision (or ``force``) through the usual phases."""
        app = self.apps.get(name)
        if app is None:
            return
        with self._lock:
            try:
                head = force or self.head(app)
            except ValueError as exc:
                log.warning("%s", exc)
                return
            if head == self.target.get(name) and not force:
                return
            self.target[name] = head
        threading.Thread(target=self._deploy, args=(app, head), name=f"deploy-{name}", daemon=True).start()

    def _deploy(self, app: FollowedApp, revision: str) -> None:
        s, step = self.standin, self.step
        s.set_state(app.name, revision=revision, sync="OutOfSync", reconciled="after")
        if s.stopping.wait(step / 2):
            return
        rendered = self.render(app, revision)
        if isinstance(rendered, str):
            s.set_state(app.name, op_revision=revision, phase="Failed", message=rendered, hooks=[])
            return
        resources, hooks = rendered
        same = json.dumps(rendered, sort_keys=True, default=str)
        if self.synced.get(app.name) == same:  # nothing changed for this app: auto-sync has nothing to do
            s.set_state(app.name, sync="Synced")
            return
        self.synced[app.name] = same
        if not hooks:
            hooks = [
                {"kind": "Job", "name": f"{app.name}-smoke-test", "type": "PostSync", "result": "Succeeded"}
            ]
        s.set_state(
            app.name,
            op_revision=revision,
            phase="Running",
            health="Progressing",
            resources=resources,
            hooks=[],
            retry_count=0,
            message="waiting for healthy state of apps/Deployment",
        )
        if s.stopping.wait(step):
            return
        running = [{**_hook(h), "phase": "Running", "message": ""} for h in hooks]
        s.set_state(
            app.name,
            sync="Synced",
            health="Healthy",
            hooks=running,
            message="waiting for completion of hook batch/Job",
        )
        if self.hook_runner is not None:
            done = []
            for h in hooks:
                phase, message = self.hook_runner(app.name, revision, h, resources)
                done.append({**_hook(h), "phase": phase, "message": message})
        elif s.stopping.wait(step):
            return
        else:
            done = [
                {
                    **_hook(h),
                    "phase": h.get("result", "Succeeded"),
                    "message": "job failed: BackoffLimitExceeded"
                    if h.get("result") == "Failed"
                    else "Reached expected number of succeeded pods",
                }
                for h in hooks
            ]
        if self.target.get(app.name) != revision:
            return  # a newer revision took over
        failed = any(h["phase"] != "Succeeded" for h in done)
        s.set_state(
            app.name,
            hooks=done,
            phase="Failed" if failed else "Succeeded",
            message="one or more synchronization tasks completed unsuccessfully"
            if failed
            else "successfully synced (all tasks run)",
        )


def _hook(item: dict[str, Any]) -> dict[str, Any]:
    hook = {"kind": item.get("kind", "Job"), "name": item["name"], "type": item.get("type", "PostSync")}
    if item.get("namespace"):
        hook["namespace"] = item["namespace"]
    return hook


def _images(doc: dict[str, Any]) -> list[str]:
    spec = doc.get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec") or {}) if isinstance(spec, dict) else {}
    containers = list(pod.get("containers") or []) + list(pod.get("initContainers") or [])
    return [str(c["image"]) for c in containers if isinstance(c, dict) and c.get("image")]
