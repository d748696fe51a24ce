"""A step run on this machine, for an image that does not exist here: the image's tool set is not checked.

The environment holds only ``PATH`` (this machine's, with the running pipekit's folder first so
that ``pipekit`` is the one running the pipeline), ``HOME`` (a fresh folder per step: caches under
``~`` land there, nothing touches your own home), ``TMPDIR`` (the step's own) and ``LANG``; the rest
is Bitbucket's variables and yours.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pipekit.pipelines.execution.interface import Execution


class HostExecution(Execution):
    kind = "host"

    def __init__(self, step_dir: Path, clone: Path, host_env: Mapping[str, str]) -> None:
        super().__init__(step_dir, clone)
        self.clone_dir = str(clone)
        self.home_dir = step_dir / "home"
        self.tmp = step_dir / "tmp"
        self.host_path = host_env.get("PATH", os.defpath)

    def prepare(self) -> None:
        self.home_dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def mount(self, host: Path, inside: str, read_only: bool = False) -> None:
        raise NotImplementedError("a step on this machine has no mounts")  # callers place files directly

    def runner_path(self) -> str:
        return str(self.runner)

    def base_environment(self) -> dict[str, str]:
        own = os.path.dirname(sys.executable)
        path = (
            self.host_path if own in self.host_path.split(os.pathsep) else own + os.pathsep + self.host_path
        )
        return {"PATH": path, "HOME": str(self.home_dir), "TMPDIR": str(self.tmp), "LANG": "C.UTF-8"}

    def argv(self, args: list[str]) -> tuple[list[str], dict[str, str] | None]:
        return ["/bin/sh", str(self.runner / "run.sh"), *args], self.base_environment()

    def close(self) -> None:
        pass
