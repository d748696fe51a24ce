"""buildah working containers: a command run inside a local image, the way a CI step runs in its image.

``buildah from --pull=never IMAGE`` makes a container of a local image (nothing is pulled: a
missing image is reported, never fetched), ``buildah run --isolation chroot`` runs a command in it
with bind mounts (the network is the host's), ``buildah rm`` removes it. Containers are named by
the caller so that what a stopped run left behind can be found and removed by name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipekit.core import process
from pipekit.core.errors import ExternalError

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ImageConfig:
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()


class WorkContainers:
    def __init__(self, executable: str = "buildah") -> None:
        self.executable = executable

    def image_config(self, image: str) -> ImageConfig | None:
        """The local image's configuration, or ``None`` when no local image has that name."""
        result = process.run(
            [self.executable, "inspect", "--type", "image", image], check=False, timeout=TIMEOUT_S
        )
        if result.returncode != 0:
            return None
        try:
            data: dict[str, Any] = json.loads(result.stdout)
        except ValueError:
            return None
        config = (data.get("OCIv1") or {}).get("config") or {}
        env = {}
        for item in config.get("Env") or []:
            name, _, value = str(item).partition("=")
            env[name] = value
        return ImageConfig(
            env=env,
            user=str(config.get("User") or ""),
            workdir=str(config.get("WorkingDir") or ""),
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
        )

    def create(self, image: str, name: str) -> str:
        result = process.run(
            [self.executable, "from", "--pull=never", "--quiet", "--name", name, image],
            check=False,
            timeout=TIMEOUT_S,
        )
        if result.returncode != 0:
            raise ExternalError(f"buildah from {image} failed: {result.stderr.strip()[-300:]}")
        return result.stdout.strip() or name

    def run_argv(
        self,
        container: str,
        argv: Sequence[str],
        *,
        mounts: Sequence[tuple[str, str]] = (),
        workdir: str | None = None,
        user: str | None = None,
    ) -> list[str]:
        out = [self.executable, "run", "--isolation", "chroot", "--network", "host"]
        for host, inside in mounts:
            out += ["-v", f"{host}:{inside}"]
        if workdir:
            out += ["--workingdir", workdir]
        if user:
            out += ["--user", user]
        return [*out, container, "--", *argv]

    def read_file(self, container: str, path: str) -> str | None:
        """A file of the container's filesystem (``buildah mount``; ``buildah rm`` unmounts it)."""
        mounted = process.run([self.executable, "mount", container], check=False, timeout=TIMEOUT_S)
        if mounted.returncode != 0:
            return None
        try:
            with open(
                mounted.stdout.strip() + "/" + path.lstrip("/"), encoding="utf-8", errors="replace"
            ) as fh:
                return fh.read()
        except OSError:
            return None

    def remove(self, container: str) -> None:
        process.run([self.executable, "rm", container], check=False, timeout=TIMEOUT_S)

    def names(self, prefix: str) -> list[str]:
        result = process.run(
            [self.executable, "containers", "--format", "{{.ContainerName}}"], check=False, timeout=TIMEOUT_S
        )
        return [n for n in result.stdout.split() if n.startswith(prefix)]
