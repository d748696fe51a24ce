"""The file writers of ``pipekit scan`` by output name. A new format is one module and one line here."""

from __future__ import annotations

from pipekit.core.registry import Registry
from pipekit.reports.writers.interface import FindingsWriter

WRITERS: Registry[FindingsWriter] = Registry(
    {  # each imported when a scan writes its file
        "sarif": "pipekit.reports.writers.sarif:WRITER",
        "junit": "pipekit.reports.writers.junit:WRITER",
    }
)
