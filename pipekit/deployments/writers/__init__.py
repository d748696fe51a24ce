"""Writers of the DORA report, one module per format (pip-audit style): :data:`WRITERS` by name."""

from __future__ import annotations

import importlib
from typing import Literal, get_args

from pipekit.deployments.writers.interface import ReportWriter

Format = Literal["table", "json", "csv", "prometheus", "html"]
FORMATS: tuple[str, ...] = get_args(Format)
_MODULES = {"table": "table", "json": "json_writer", "csv": "csv_writer", "prometheus": "prometheus", "html": "html"}


def writer(name: str) -> ReportWriter:
    module = importlib.import_module(f"pipekit.deployments.writers.{_MODULES[name]}")
    found: ReportWriter = module.WRITER
    return found
