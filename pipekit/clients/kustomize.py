"""Render a Kustomize overlay with a configurable command (default ``kubectl kustomize DIR``).

The command comes from config ``gitops.renderer`` or ``--renderer``: a command line where
``{dir}`` is the overlay directory (appended when absent), or ``none`` to skip rendering.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import BadInput, CheckFailed, TimedOut

DEFAULT_RENDERER = "kubectl kustomize {dir}"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Rollout", "Pod", "ReplicaSet"}
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Renderers that read DIR/kustomization.yaml with a plain open+read (a FIFO works): they can be
# started before the overlay exists (see Prestarted).
_PRESTARTABLE = {"kubectl", "kustomize"}


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
            return process.start(argv)
        except BadInput:
            raise BadInput(
                f"renderer {argv[0]!r} not found" + _package(argv[0]),
                hint="install it, set gitops.renderer / --renderer, or use --renderer none",
            ) from None

    def finish(self, proc: subprocess.Popen[str], label: str) -> str:
        """The rendered manifests; a failed render is bad input naming the overlay ``label``."""
        try:
            done = process.finish(proc, timeout=self.timeout, check=False, what=f"rendering {label}")
        except TimedOut:
            raise TimedOut(f"rendering {label} took longer than {self.timeout:.0f}s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip() and "deprecated" not in line]
            reason = lines[-1] if lines else f"exit {done.returncode}"
            raise BadInput(
                f"{label}: kustomize cannot render the overlay: {reason}", hint="nothing was pushed"
            )
        return done.stdout

    def render(self, directory: Path, label: str) -> str:
        return self.finish(self.start(directory), label)

    def prestart(self, render_root: Path, overlay: str) -> Prestarted | None:
        """Start the renderer on ``render_root/overlay`` before the overlay exists (None: not possible).

        kubectl spends most of its time in start-up, before it reads a file. Here it starts
        (while git clones) on an empty tree whose ``kustomization.yaml`` is a FIFO, so it
        blocks reading it; :meth:`Prestarted.feed` later copies the checked-out tree in and
        writes the edited kustomization into the FIFO. It runs under ``setpriv --pdeathsig
        KILL``: a blocked renderer cannot outlive pipekit. Without setpriv, renders are cold.
        """
        if not self.enabled or not hasattr(os, "mkfifo"):
            return None
        argv = self.argv(render_root / overlay)
        setpriv = shutil.which("setpriv")
        if setpriv is None or os.path.basename(argv[0]) not in _PRESTARTABLE:
            return None
        fifo = render_root / overlay / KUSTOMIZATION_NAMES[0]
        try:
            fifo.parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(fifo, 0o600)
            proc = process.start([setpriv, "--pdeathsig", "KILL", "--", *argv])
        except (OSError, BadInput):
            return None
        return Prestarted(proc, render_root, overlay, fifo, self.timeout)


@dataclass
class Prestarted:
    """A renderer blocked on the FIFO ``fifo`` in an otherwise empty tree ``root``."""

    proc: subprocess.Popen[str]
    root: Path
    overlay: str
    fifo: Path
    timeout: float = 60.0

    def feed(self, checkout: Path) -> subprocess.Popen[str] | None:
        """Copy ``checkout`` (the sparse working tree) in and hand the renderer the overlay.

        Returns the running render (collect it with :meth:`Renderer.finish`), or None when this
        renderer cannot be used (it exited, or the overlay is unusual): render cold instead.
        """
        names = [n for n in KUSTOMIZATION_NAMES if (checkout / self.overlay / n).is_file()]
        if len(names) != 1 or self.proc.poll() is not None:
            return None  # no or several kustomization files: let the cold render say what is wrong
        content = (checkout / self.overlay / names[0]).read_bytes()
        skip = {(checkout / self.overlay / n) for n in KUSTOMIZATION_NAMES}
        # Once it has read the FIFO, the path becomes a regular file with the same bytes, so a
        # second read of the kustomization (if a kustomize version did one) cannot block.
        pending = self.root.with_name(self.root.name + ".pending")
        try:
            _mirror(checkout, self.root, skip)
            pending.write_bytes(content)
        except OSError:  # e.g. a symlink on the overlay's own path: render in place instead
            return None
        fd = self._open_writer()
        if fd is None:
            return None
        try:
            os.replace(pending, self.fifo)
            os.set_blocking(fd, True)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            return None
        finally:
            os.close(fd)
        return self.proc

    def _open_writer(self) -> int | None:
        """The FIFO's write end, once the renderer has it open for reading (it blocks in open until then)."""
        deadline = time.monotonic() + min(self.timeout, 10.0)
        while True:
            try:
                return os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    return None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.001)

    def stop(self) -> None:
        """Kill the renderer if it still runs (an unused or abandoned prestart)."""
        process.kill(self.proc)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def _package(tool: str) -> str:
    where = process.install_hint(tool)
    return f" (install {where})" if where else ""


def _mirror(src: Path, dest: Path, skip: set[Path]) -> None:
    """Hard-link (or copy) every file and symlink of the working tree ``src`` into ``dest`` (no ``.git``)."""
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        if here == src:
            dirnames[:] = [d for d in dirnames if d != ".git"]
        target = dest / here.relative_to(src)
        target.mkdir(exist_ok=True)
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            if path in skip:
                continue
            if path.is_symlink():
                os.symlink(os.readlink(path), target / name)
                continue
            try:
                os.link(path, target / name)
            except OSError:
                shutil.copyfile(path, target / name)


def workload_images(manifests: str) -> list[tuple[str, str]]:
    """``(kind/name, image)`` of every container in the rendered workloads."""
    from pipekit.core import yamlload

    found: list[tuple[str, str]] = []
    for doc in yamlload.load_all(manifests, "rendered manifests"):
        if not isinstance(doc, dict) or doc.get("kind") not in WORKLOAD_KINDS:
            continue
        spec = doc.get("spec") or {}
        if doc["kind"] == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
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
        raise CheckFailed(
            f"{label}: the rendered overlay does not run {reference} (it runs: {seen})",
            hint="does the images entry name match the container image in the base?",
        )
    return using
