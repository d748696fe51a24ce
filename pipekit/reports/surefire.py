"""Where Maven Surefire and Failsafe write their reports: ``TEST-*.xml`` in every module's
``surefire-reports``/``failsafe-reports`` folder. What the files say is read by the one JUnit
reader (:mod:`pipekit.reports.junit`, dialect ``surefire``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPORT_DIRS = ("surefire-reports", "failsafe-reports")
_PRUNE = {".git", "src", "node_modules", ".mvn", ".pipekit", "classes", "test-classes", "generated-sources"}


def find_reports(root: Path, *, newer_than: float | None = None) -> tuple[list[Path], int]:
    """``TEST-*.xml`` in every module's surefire/failsafe report folder under ``root``.

    Returns the files (sorted) and how many were skipped as older than ``newer_than``
    (stale reports from an earlier build that this one did not rewrite).
    """
    found: list[Path] = []
    stale = 0
    for dirpath, dirnames, filenames in os.walk(root):
        base = os.path.basename(dirpath)
        if base in REPORT_DIRS:
            for name in filenames:
                if name.startswith("TEST-") and name.endswith(".xml"):
                    path = Path(dirpath, name)
                    if newer_than is not None and path.stat().st_mtime < newer_than:
                        stale += 1
                        continue
                    found.append(path)
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            continue
        dirnames[:] = [d for d in dirnames if d not in _PRUNE and not d.startswith(".")]
    return sorted(found), stale
