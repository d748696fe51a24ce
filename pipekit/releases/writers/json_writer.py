"""The matrix and the diff as JSON (the reports' ``to_dict``)."""

from __future__ import annotations

import json

from pipekit.releases.model import DiffReport, StatusReport
from pipekit.releases.writers.interface import ReleaseWriter


class JsonWriter(ReleaseWriter):
    name = "json"
    media_type = "application/json"

    def status(self, report: StatusReport) -> str:
        return json.dumps(report.to_dict(), indent=2) + "\n"

    def diff(self, report: DiffReport) -> str:
        return json.dumps(report.to_dict(), indent=2) + "\n"


WRITER = JsonWriter()
