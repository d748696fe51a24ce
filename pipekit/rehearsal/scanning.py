"""The rehearsal scan's inputs: the bundled SCA report (semgrep's local rules come with the scan issue's work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipekit.rehearsal import workspace


def scan_settings(workdir: Path, repo: Path) -> dict[str, Any]:
    """The ``scan:`` settings of the rehearsal's pipekit.yaml."""
    return {"reports": [str(workspace.SCAN_REPORT)], "sarif_out": str(workdir / "scan.sarif")}
