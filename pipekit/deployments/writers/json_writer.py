"""The report as JSON: every scope with its numbers (seconds, ratios), levels and weekly points."""

from __future__ import annotations

import json

from pipekit.deployments.report import DoraReport
from pipekit.deployments.writers.interface import DoraWriter


class JsonWriter(DoraWriter):
    name = "json"
    media_type = "application/json"

    def render(self, report: DoraReport) -> str:
        return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


WRITER = JsonWriter()
