"""The contract of a step's execution: prepare a place for it, run a script there, clean up."""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path

LineSink = Callable[[str], None]


class Execution(abc.ABC):
    """One step's place to run. ``close`` removes everything ``prepare`` made, and is safe to call twice."""

    kind: str = ""
    clone_dir: str = ""  # BITBUCKET_CLONE_DIR as the step's commands see it
    home: str | None = None  # the home folder inside the image; None on this machine

    def __init__(self, step_dir: Path, clone: Path) -> None:
        self.step_dir = step_dir
        self.clone = clone
        self.runner = step_dir / "runner"  # scripts, the environment file, status records

    @abc.abstractmethod
    def prepare(self) -> None:
        """Make the place (a container of the image); nothing when the step runs on this machine."""

    @abc.abstractmethod
    def mount(self, host: Path, inside: str, read_only: bool = False) -> None:
        """Make ``host`` appear at ``inside`` (caches outside the clone, the docker socket's folder)."""

    @abc.abstractmethod
    def runner_path(self) -> str:
        """The runner folder as the step's commands see it."""

    @abc.abstractmethod
    def base_environment(self) -> dict[str, str]:
        """What the step's environment holds besides Bitbucket's and your variables."""

    @abc.abstractmethod
    def argv(self, args: list[str]) -> tuple[list[str], dict[str, str] | None]:
        """The command that runs the wrapper with ``args`` (paths as the step sees them),
        and its process env."""

    @abc.abstractmethod
    def close(self) -> None:
        """Remove the container (if any)."""
