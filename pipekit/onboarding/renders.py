"""Every overlay of a service rendered with kustomize, and what the render must show.

The overlays are rendered by one kustomize process, through a kustomization that lists them all
as resources: kubectl's start-up is most of a render, so one process instead of four saves about
a third of init's CPU (docs/architecture.md). The overlays' namespaces keep their objects
apart. When they are not distinct (a hand-edited overlay) or the joint render fails, each overlay
is rendered alone, in parallel, so that a problem names its overlay.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pipekit.clients.kustomize import Renderer
from pipekit.core.errors import PipekitError
from pipekit.onboarding.answers import Answers
from pipekit.onboarding.render import Files, overlay_dir

JOINT = "_pipekit_all_overlays"


def _load_all(text: str) -> list[dict[str, Any]]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(text, Loader=loader) if isinstance(d, dict)]  # noqa: S506 - a safe loader


class Renders:
    def __init__(self, files: Files, answers: Answers, renderer: Renderer) -> None:
        self.answers, self.renderer = answers, renderer
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.overlays: list[str] = []
        self.namespaces: dict[str, str] = {}  # namespace -> overlay
        self.joint: subprocess.Popen[str] | None = None
        if not renderer.enabled:
            return
        import yaml

        self.tmp = tempfile.TemporaryDirectory(prefix="pipekit-init-")
        self.root = Path(self.tmp.name)
        for path, text in files.gitops.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for env in answers.environments:
            overlay = overlay_dir(answers.service, env)
            kustomization = files.gitops.get(f"{overlay}/kustomization.yaml")
            if kustomization is None:
                continue
            self.overlays.append(overlay)
            try:
                namespace = str((_load_all(kustomization) or [{}])[0].get("namespace") or "")
            except yaml.YAMLError:  # malformed: the schema check says so; here, render it alone
                namespace = ""
            if namespace and namespace not in self.namespaces:
                self.namespaces[namespace] = overlay
        if len(self.overlays) > 1 and len(self.namespaces) == len(self.overlays):
            joint = self.root / JOINT
            joint.mkdir()
            resources = "".join(f"  - ../{overlay}\n" for overlay in self.overlays)
            (joint / "kustomization.yaml").write_text(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + resources,
                encoding="utf-8",
            )
            self.joint = renderer.start(joint)

    def finish(self, report: Any) -> None:
        if self.tmp is None:
            report.skipped.append("kustomize renders (renderer 'none')")
            return
        problems: list[str] = []
        try:
            rendered = self._joint() if self.joint is not None else None
            if rendered is None:
                rendered = self._each(problems)
            for overlay, docs in rendered.items():
                problems += check_rendered(docs, overlay, self.answers)
        finally:
            self.tmp.cleanup()
        present = set(self.overlays)
        problems += [
            f"{overlay_dir(self.answers.service, e)}: no kustomization.yaml"
            for e in self.answers.environments
            if overlay_dir(self.answers.service, e) not in present
        ]
        report.add(f"kustomize renders ({len(self.overlays)})", problems)

    def _joint(self) -> dict[str, list[dict[str, Any]]] | None:
        assert self.joint is not None
        try:
            docs = _load_all(self.renderer.finish(self.joint, "the overlays"))
        except PipekitError:
            return None  # rendered one by one below: the failure then names its overlay
        by_overlay: dict[str, list[dict[str, Any]]] = {overlay: [] for overlay in self.overlays}
        for doc in docs:
            overlay = self.namespaces.get(str((doc.get("metadata") or {}).get("namespace") or ""))
            if overlay is None:
                return None  # an object outside every overlay's namespace: render alone to be sure
            by_overlay[overlay].append(doc)
        return by_overlay

    def _each(self, problems: list[str]) -> dict[str, list[dict[str, Any]]]:
        jobs = [(overlay, self.renderer.start(self.root / overlay)) for overlay in self.overlays]
        out: dict[str, list[dict[str, Any]]] = {}
        for overlay, job in jobs:
            try:
                out[overlay] = _load_all(self.renderer.finish(job, overlay))
            except PipekitError as exc:
                problems.append(str(exc))
        return out


def check_rendered(docs: list[dict[str, Any]], overlay: str, answers: Answers) -> list[str]:
    from pipekit.alerting.check import prometheus_rules, rule_problems

    alerts = [
        p for doc in prometheus_rules(docs) for p in rule_problems(doc, overlay)
    ]  # the CRD schema, the labels
    return alerts + _check_workload(docs, overlay, answers)


def _check_workload(docs: list[dict[str, Any]], overlay: str, answers: Answers) -> list[str]:
    deployments = [
        d
        for d in docs
        if d.get("kind") == "Deployment" and (d.get("metadata") or {}).get("name") == answers.service
    ]
    if not deployments:
        return [f"{overlay}: the rendered overlay has no Deployment {answers.service}"]
    pod = ((deployments[0].get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
    repo = answers.image_repo
    runs = [c for c in containers if str(c.get("image", "")).startswith((f"{repo}:", f"{repo}@"))]
    if not runs:
        seen = ", ".join(str(c.get("image")) for c in containers) or "no containers"
        return [f"{overlay}: the rendered Deployment {answers.service} does not run {repo} (it runs: {seen})"]
    problems = [
        f"{overlay}: the {answers.service} container has no {probe}"
        for probe in ("readinessProbe", "livenessProbe")
        if not runs[0].get(probe)
    ]
    return problems + pods_admitted(docs, overlay)


def pods_admitted(docs: list[dict[str, Any]], overlay: str) -> list[str]:
    """Every rendered pod template passes the restricted Pod Security level and has requests and limits."""
    from pipekit.kube.podsecurity import missing_resources, restricted

    problems = []
    for doc in docs:
        if doc.get("kind") not in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            continue
        pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        where = f"{overlay}: {doc['kind']} {(doc.get('metadata') or {}).get('name')}"
        problems += restricted(pod, where) + missing_resources(pod, where)
    return problems
