"""What every step of one run shares: the file, the commit, the stores, the variables, the log sinks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipekit.clients.workcontainers import ImageConfig, WorkContainers
from pipekit.core import masking, process
from pipekit.pipelines.artifacts import ArtifactStore
from pipekit.pipelines.caches import CacheStore
from pipekit.pipelines.cloning import Seeds
from pipekit.pipelines.defaults import RunInfo
from pipekit.pipelines.model import PipelineFile
from pipekit.pipelines.selection import Trigger
from pipekit.pipelines.variables import Variable, VariableSet

if TYPE_CHECKING:
    from pipekit.core.console import Console

PIPE_REGISTRY = "bitbucketpipelines"  # atlassian/NAME:TAG pipes are the image bitbucketpipelines/NAME:TAG


@dataclass
class RunContext:
    file: PipelineFile
    repo: Path
    commit: str
    trigger: Trigger
    branch: str | None
    info: RunInfo
    variables: VariableSet
    custom: dict[str, Variable]
    workdir: Path
    keep: bool
    store: ArtifactStore
    caches: CacheStore
    image_map: dict[str, str]
    host_env: Mapping[str, str]
    console: Console
    run_id: str
    tool: WorkContainers = field(default_factory=WorkContainers)
    stopping: threading.Event = field(default_factory=threading.Event)  # the run is being stopped
    seeds: Seeds | None = None  # the run's clones each step's is copied from (workdir/seeds)
    _changed: list[str] | None = None
    _configs: dict[str, ImageConfig | None] = field(default_factory=dict)
    users: dict[str, tuple[str, int]] = field(default_factory=dict)  # local image -> its user's (home, uid)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.seeds is None:
            self.seeds = Seeds(self.workdir / "seeds")

    def local_image(self, name: str) -> str | None:
        """The local image that stands for ``name``: ``--image-map``, else a local image of that name."""
        if name in self.image_map:
            return self.image_map[name]
        return name if self.image_config(name) is not None else None

    def image_config(self, image: str) -> ImageConfig | None:
        """A local image's configuration (asked once per run), ``None`` when there is no such image."""
        with self._lock:
            if image not in self._configs:
                self._configs[image] = self.tool.image_config(image)
            return self._configs[image]

    def pipe_image(self, pipe: str) -> str | None:
        """The local image for a pipe: ``--image-map PIPE=LOCAL`` or one for the pipe's image."""
        if pipe in self.image_map:
            return self.image_map[pipe]
        if pipe.startswith("docker://"):
            return self.local_image(pipe[len("docker://") :])
        if pipe.startswith("atlassian/"):
            return self.local_image(PIPE_REGISTRY + "/" + pipe.split("/", 1)[1])
        return self.local_image(pipe)

    def changed_files(self) -> list[str]:
        """The files the commit under test changes (a pull request: everything not on its destination)."""
        with self._lock:
            if self._changed is None:
                if self.trigger.kind == "pr":
                    args = ["diff", "--name-only", f"{self.trigger.destination}...{self.commit}"]
                else:
                    args = [
                        "diff-tree",
                        "--no-commit-id",
                        "--name-only",
                        "-r",
                        "--root",
                        "-m",
                        "--first-parent",
                        self.commit,
                    ]
                out = process.run(["git", "-C", str(self.repo), *args], timeout=120)
                self._changed = sorted({line for line in out.stdout.splitlines() if line})
            return self._changed


class StepLog:
    """One step's log: a file in the step's folder and, live, the console; every line masked."""

    _print_lock = threading.Lock()

    def __init__(self, path: Path, console: Console, prefix: str = "") -> None:
        self.path = path
        self.console = console
        self.prefix = prefix
        self._file = path.open("a", encoding="utf-8")

    def line(self, text: str) -> None:
        text = masking.mask(text)
        with self._print_lock:
            if not self._file.closed:
                self._file.write(text + "\n")
                self._file.flush()
            self.console.print(f"{self.prefix}{text}")

    def close(self) -> None:
        self._file.close()
