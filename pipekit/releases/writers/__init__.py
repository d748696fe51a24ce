"""Writers of the status matrix and the promotion diff, one module per format (pip-audit style)."""

from __future__ import annotations

import importlib

from pipekit.releases.writers.interface import ReleaseWriter

FORMATS = ("table", "json", "markdown", "html")
_MODULES = {"table": "table", "json": "json_writer", "markdown": "markdown", "html": "html"}


def writer(name: str) -> ReleaseWriter:
    module = importlib.import_module(f"pipekit.releases.writers.{_MODULES[name]}")
    found: ReleaseWriter = module.WRITER
    return found
