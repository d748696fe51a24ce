"""The scanner-runner interface: one module per scanner, each knows its command and its exit codes.

Exit codes differ per tool, and a non-zero one often only means "found something", so each
runner says which codes mean "scanned" (:attr:`Run.ok`). Credentials come from the environment
only (``VERACODE_API_KEY_ID``/``VERACODE_API_KEY_SECRET``, ``SRCCLR_API_TOKEN``), never from
arguments. :mod:`pipekit.reports.runners.registry` names the runners and runs them.
"""

from __future__ import annotations

import os
import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput


@dataclass
class Run:
    tool: str
    argv: list[str]
    report: Path
    ok: Callable[[int], bool]
    stdout_is_report: bool = False
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Planned:
    """What every runner gets: its ``scan.run.<tool>`` settings and where the report goes."""

    cfg: Mapping[str, Any]
    target: str
    extra: list[str]
    report: Path
    env: Mapping[str, str]


class Runner(ABC):
    name: str  # the --run name

    @abstractmethod
    def plan(self, p: Planned) -> Run:
        """The command for this scanner; ``BadInput`` when it cannot run here."""

    def need(self, binary: str, how: str, env: Mapping[str, str]) -> str:
        path = find_binary(binary, env)
        if not path:
            raise BadInput(f"--run {self.name}: {binary} is not installed (not on PATH)", hint=how)
        return path


def find_binary(name: str, env: Mapping[str, str]) -> str | None:
    """On PATH, or beside the running interpreter (a virtualenv's bin/ that is not activated)."""
    found = shutil.which(name, path=env.get("PATH"))
    if found:
        return found
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
