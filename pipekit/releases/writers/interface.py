"""The one interface every status/diff writer implements, and the words they share."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pipekit.deployments.report import duration
from pipekit.releases.model import Cell, DiffReport, StatusReport


class ReleaseWriter(ABC):
    name: str = ""
    media_type: str = "text/plain"

    @abstractmethod
    def status(self, report: StatusReport) -> str:
        """The environment matrix as text in this format."""

    @abstractmethod
    def diff(self, report: DiffReport) -> str:
        """What a promotion would carry (the release notes) as text in this format."""


def age(cell: Cell) -> str:
    return duration(cell.age_s) if cell.age_s is not None else "-"


def who(cell: Cell) -> str:
    """Who made the deployment, how, and from which build: ``dana, promoted from qa, #41``."""
    parts = [cell.author] if cell.author else []
    if cell.kind == "promotion" and cell.promoted_from:
        parts.append(f"from {cell.promoted_from}")
    elif cell.kind in ("rollback", "revert"):
        parts.append(cell.kind)
    if cell.build_number is not None:
        parts.append(f"#{cell.build_number}")
    return ", ".join(parts)


def short(sha: str | None, n: int = 8) -> str:
    return sha[:n] if sha else "-"
