"""A step's services: its own ``docker`` daemon, and ``definitions.services`` containers
where their image is local.

Bitbucket gives each step that lists ``docker`` (or all steps, with ``options: docker: true``) a
Docker daemon of its own, reachable through ``DOCKER_HOST``, and mounts the docker CLI into the
step's container; images built in one step are gone in the next. Here: a podman Docker API
service per step (:mod:`pipekit.clients.podman_service`), its socket's folder mounted into the
image at ``/opt/atlassian/pipelines/agent/docker`` and this machine's docker CLI at ``/usr/local/bin/docker``.
Other services share the step's network (``localhost``), as on Bitbucket: each runs from its local
image with ``buildah run`` for the length of the step; a service whose image is not local fails
the step, saying it could not be provided.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from pipekit.clients.podman_service import DockerService
from pipekit.clients.workcontainers import WorkContainers
from pipekit.core import process
from pipekit.core.errors import CheckFailed
from pipekit.pipelines.execution.interface import Execution
from pipekit.pipelines.model import ServiceDef

SOCKET_DIR = "/opt/atlassian/pipelines/agent/docker"  # not under /run: buildah mounts a tmpfs there
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class StepServices:
    def __init__(
        self, name_prefix: str, resolve_image: Callable[[str], str | None], tool: WorkContainers | None = None
    ) -> None:
        self.prefix = name_prefix
        self.resolve_image = resolve_image
        self.tool = tool or WorkContainers()
        self.docker: DockerService | None = None
        self.procs: list[subprocess.Popen[str]] = []
        self.containers: list[str] = []

    def start_docker(self) -> None:
        """The step's own Docker daemon (it needs nothing of the step, so it starts beside the clone)."""
        self.docker = DockerService()
        self.docker.start()

    def attach(self, execution: Execution) -> dict[str, str]:
        """Make the daemon reachable from the step; the variables the step gets for it (``DOCKER_HOST``)."""
        if self.docker is None:
            return {}
        if execution.kind == "host":
            return {"DOCKER_HOST": self.docker.docker_host}
        uid = getattr(execution, "uid", 0)
        if uid:  # a step running as another user than root may use its daemon (Bitbucket's is on TCP)
            for path in (self.docker.socket_dir, self.docker.socket_path):
                os.chown(path, uid, -1)
        execution.mount(self.docker.socket_dir, SOCKET_DIR)
        client = shutil.which("docker")
        if client:
            execution.mount(Path(client).resolve(), "/usr/local/bin/docker", read_only=True)
        return {"DOCKER_HOST": f"unix://{SOCKET_DIR}/docker.sock"}

    def start_containers(
        self, services: list[ServiceDef], env: dict[str, str], log: Callable[[str], None]
    ) -> None:
        for service in services:
            if not service.docker:
                self._container(service, env, log)

    def _container(self, service: ServiceDef, env: Mapping[str, str], log: Callable[[str], None]) -> None:
        assert service.image is not None
        local = self.resolve_image(service.image.name)
        config = self.tool.image_config(local) if local else None
        if local is None or config is None:
            raise CheckFailed(
                f"service {service.name!r} could not be provided: image {service.image.name!r} is "
                "not a local image",
                hint=f"build it or pass --image-map {service.image.name}=LOCAL",
            )
        argv = [*config.entrypoint, *config.cmd]
        if not argv:
            raise CheckFailed(
                f"service {service.name!r}: image {local} has no entrypoint or command to start"
            )
        name = f"{self.prefix}-svc-{service.name}"[:60]
        container = self.tool.create(local, name)
        self.containers.append(container)
        run = self.tool.run_argv(container, argv, workdir=config.workdir or None)
        values = [f"{k}={expand(v, env)}" for k, v in service.variables.items()]
        run = run[:2] + [a for v in values for a in ("-e", v)] + run[2:]
        self.procs.append(process.start(run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        log(f"service {service.name} started from {local}")

    def stop(self) -> None:
        for proc in self.procs:
            process.stop(proc)
        self.procs.clear()
        for container in self.containers:
            self.tool.remove(container)
        self.containers.clear()
        if self.docker is not None:
            self.docker.stop()
            self.docker = None


def expand(value: str, env: Mapping[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` in a service variable, from the step's variables (unknown: empty)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
