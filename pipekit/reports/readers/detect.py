"""Find the reader for a report by its content (or ``--format``) and read it into findings.

Every failure is a one-line :class:`BadInput` naming the file, the place (line:column for JSON
syntax, a JSON path for a wrong shape) and the reason: a report that cannot be read never passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.reports.findings import Finding, gc_paused
from pipekit.reports.readers import sarif
from pipekit.reports.readers.bandit import BanditReader
from pipekit.reports.readers.dependency_check import DependencyCheckReader
from pipekit.reports.readers.grype import GrypeReader
from pipekit.reports.readers.interface import Malformed, Reader
from pipekit.reports.readers.semgrep import SemgrepReader
from pipekit.reports.readers.srcclr import SrcClrReader
from pipekit.reports.readers.trivy import TrivyReader
from pipekit.reports.readers.veracode_pipeline import VeracodePipelineReader

READERS: tuple[Reader, ...] = (
    sarif.SarifReader(),
    TrivyReader(),
    GrypeReader(),
    DependencyCheckReader(),
    SrcClrReader(),
    VeracodePipelineReader(),
    BanditReader(),
    SemgrepReader(),
)
FORMATS: dict[str, Reader] = {r.name: r for r in READERS}


@dataclass
class Report:
    path: str
    format: str
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # the tool's own errors: a partial scan


def _tool_errors(fmt: str, doc: Any) -> list[str]:
    """Errors semgrep and bandit record in their report (files they could not scan)."""
    if (
        fmt not in ("semgrep", "bandit")
        or not isinstance(doc, dict)
        or not isinstance(doc.get("errors"), list)
    ):
        return []
    notes = []
    for err in doc["errors"][:20]:
        if isinstance(err, dict):
            text = err.get("message") or err.get("reason") or err.get("type") or json.dumps(err)[:200]
            where = err.get("path") or err.get("filename") or ""
            notes.append(
                f"{fmt} reported an error{' in ' + str(where) if where else ''}: "
                f"{str(text).splitlines()[0][:200]}"
            )
    return notes


def loads(data: bytes) -> Any:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; stdlib still works
        import json

        return json.loads(data)
    return orjson.loads(data)


def _looks_like_sarif(head: bytes) -> bool:
    return (
        head.lstrip().startswith(b"{")
        and b'"runs"' in head
        and (b"sarif" in head.lower() or b'"version"' in head)
    )


def read_report(path: str | Path, fmt: str | None = None) -> Report:
    """Read one report; ``BadInput`` naming the file, place and reason when it cannot be read."""
    with gc_paused():
        return _read_report(path, fmt)


def _read_report(path: str | Path, fmt: str | None = None) -> Report:
    p = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r} is not known; use one of: {', '.join(sorted(FORMATS))}")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise BadInput(f"{p}: cannot read report: {exc.strerror or exc}") from None
    if not head.strip():
        raise BadInput(f"{p}: empty file, not a scanner report")
    if (
        size >= sarif.STREAM_FROM_BYTES
        and fmt in (None, "sarif")
        and _looks_like_sarif(head)
        and sarif.count_drivers(p) == 1
    ):
        return Report(str(p), "sarif", _stream_sarif(p))
    try:
        doc = loads(p.read_bytes())
    except ValueError as exc:  # json / orjson JSONDecodeError
        lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        where = f"{p}:{lineno}:{colno}" if lineno else str(p)
        reason = getattr(exc, "msg", str(exc))
        raise BadInput(f"{where}: not valid JSON ({reason}); truncated or not a JSON report?") from None
    except OSError as exc:
        raise BadInput(f"{p}: cannot read report: {exc.strerror or exc}") from None
    reader = FORMATS[fmt] if fmt else next((r for r in READERS if r.detect(doc)), None)
    if fmt and reader is not None and not reader.detect(doc):
        raise BadInput(f"{p}: does not look like a {fmt} report (--format {fmt}); drop --format to detect it")
    if reader is None:
        keys = ", ".join(sorted(doc)[:6]) if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise BadInput(
            f"{p}: unknown report format (top level: {keys or 'empty object'})",
            hint=f"supported: {', '.join(sorted(FORMATS))}; force one with --format",
        )
    try:
        found = reader.read(doc)
    except Malformed as exc:
        raise BadInput(f"{p}: {exc.where}: {exc.reason} (read as {reader.name})") from None
    return Report(str(p), reader.name, found, _tool_errors(reader.name, doc))


def _stream_sarif(p: Path) -> list[Finding]:
    import ijson

    try:
        return sarif.stream(p)
    except Malformed as exc:
        raise BadInput(f"{p}: {exc.where}: {exc.reason} (read as sarif)") from None
    except ijson.JSONError as exc:
        raise BadInput(
            f"{p}: not valid JSON ({str(exc).splitlines()[0]}); truncated or not a JSON report?"
        ) from None
