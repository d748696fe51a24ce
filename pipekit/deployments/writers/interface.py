"""The one interface every DORA report writer implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pipekit.deployments.report import DoraReport


class DoraWriter(ABC):
    name: str = ""
    media_type: str = "text/plain"

    @abstractmethod
    def render(self, report: DoraReport) -> str:
        """The whole report as text in this format."""
