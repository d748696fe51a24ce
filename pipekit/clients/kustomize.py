"""Render a Kustomize overlay with a configurable command (default ``kubectl kustomize DIR``).

The command comes from config ``gitops.renderer`` or ``--renderer``: a command line where
``{dir}`` is the overlay directory (appended when absent), or ``none`` to skip rendering.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipekit.core.errors import BadInput, CheckFailed, TimedOut

DEFAULT_RENDERER = "kubectl kustomize {dir}"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Rollout", "Pod", "ReplicaSet"}


@dataclass
class Renderer:
    command: str = DEFAULT_RENDERER
    timeout: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.command.strip().lower() not in ("none", "off", "false", "")

    def argv(self, directory: Path) -> list[str]:
        try:
            parts = shlex.split(self.command)
        except ValueError as exc:
            raise BadInput(f"renderer command {self.command!r} cannot be parsed: {exc}") from None
        if not any("{dir}" in p for p in parts):
            parts.append("{dir}")
        return [p.replace("{dir}", str(directory)) for p in parts]

    def start(self, directory: Path) -> subprocess.Popen[str]:
        """Start rendering the overlay in ``directory`` (collect the output with :meth:`finish`)."""
        argv = self.argv(directory)
        try:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except FileNotFoundError:
            raise BadInput(f"renderer {argv[0]!r} not found",
                           hint="install it, set gitops.renderer / --renderer, or use --renderer none") from None

    def finish(self, proc: subprocess.Popen[str], label: str) -> str:
        """The rendered manifests; a failed render is bad input naming the overlay ``label``."""
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TimedOut(f"rendering {label} took longer than {self.timeout:.0f}s") from None
        if proc.returncode != 0:
            lines = [line for line in err.splitlines() if line.strip() and "deprecated" not in line]
            reason = lines[-1] if lines else f"exit {proc.returncode}"
            raise BadInput(f"{label}: kustomize cannot render the overlay: {reason}", hint="nothing was pushed")
        return out

    def render(self, directory: Path, label: str) -> str:
        return self.finish(self.start(directory), label)


def workload_images(manifests: str) -> list[tuple[str, str]]:
    """``(kind/name, image)`` of every container in the rendered workloads."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: list[tuple[str, str]] = []
    for doc in yaml.load_all(manifests, Loader=loader):  # noqa: S506 - a safe loader
        if not isinstance(doc, dict) or doc.get("kind") not in WORKLOAD_KINDS:
            continue
        spec = doc.get("spec") or {}
        if doc["kind"] == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
        pod = (spec.get("template") or {}).get("spec") or {} if doc["kind"] != "Pod" else spec
        for key in ("initContainers", "containers"):
            for container in pod.get(key) or []:
                if isinstance(container, dict) and container.get("image"):
                    name = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
                    found.append((name, str(container["image"])))
    return found


def expect_image(manifests: str, reference: str, label: str) -> list[str]:
    """The workloads that run ``reference``; none at all is a failed check."""
    images = workload_images(manifests)
    using = [name for name, image in images if image == reference]
    if not using:
        seen = ", ".join(sorted({image for _, image in images})) or "no workloads"
        raise CheckFailed(f"{label}: the rendered overlay does not run {reference} (it runs: {seen})",
                          hint="does the images entry name match the container image in the base?")
    return using
