"""Writers of the DORA report, one module per format (pip-audit style), in :data:`WRITERS` by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from pipekit.core.registry import Registry

if TYPE_CHECKING:
    from pipekit.deployments.writers.interface import DoraWriter

Format = Literal["table", "json", "csv", "prometheus", "html"]
FORMATS: tuple[str, ...] = get_args(Format)
WRITERS: Registry[DoraWriter] = Registry(
    {
        "table": "pipekit.deployments.writers.table:WRITER",
        "json": "pipekit.deployments.writers.json_writer:WRITER",
        "csv": "pipekit.deployments.writers.csv_writer:WRITER",
        "prometheus": "pipekit.deployments.writers.prometheus:WRITER",
        "html": "pipekit.deployments.writers.html:WRITER",
    }
)


def writer(name: str) -> DoraWriter:
    found = WRITERS.find(name)
    if found is None:
        raise KeyError(name)  # the option's choices are FORMATS: a bug
    return found
