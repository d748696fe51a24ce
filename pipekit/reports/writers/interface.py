"""The report-writer interface: one module per output format, each writes the gate's outcome to a file.

A writer knows its format and nothing of options: :mod:`pipekit.scan` resolves where each
output goes (``--sarif-out``, ``--junit-out``) and hands every writer the same :class:`GateOutcome`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.reports import findings as fm


@dataclass
class GateOutcome:
    findings: Sequence[fm.Finding]  # every finding, merged
    blocking: Sequence[fm.Finding]
    reasons: Sequence[str] = field(default_factory=list)
    with_baseline: bool = False  # findings carry new/unchanged against a baseline
    version: str = "0"  # pipekit's version, for the tool driver


class FindingsWriter(ABC):
    name: str  # the output's name: sarif -> --sarif-out, ScanResult.sarif_out

    @abstractmethod
    def write(self, path: str | Path, outcome: GateOutcome) -> None:
        """Write the outcome to ``path`` (its folder created)."""
