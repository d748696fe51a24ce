"""The file writers of ``pipekit scan`` by output name. A new format is one module and one line here."""

from __future__ import annotations

from pipekit.reports.writers.interface import ReportWriter


def writers() -> dict[str, ReportWriter]:
    """Imported when called: a scan that writes no file loads none of them."""
    from pipekit.reports.writers.junit import JunitWriter
    from pipekit.reports.writers.sarif import SarifWriter

    return {w.name: w for w in (SarifWriter(), JunitWriter())}
