"""The incidents file (CSV or JSON): opened, resolved, service, environment, optional cause.

CSV: a header row with ``opened,resolved,service,environment`` and optionally ``cause_commit``,
``cause_image``, ``id``. JSON: a list of objects with the same keys (or ``{"incidents": [...]}``).
A bad row is :class:`BadInput` naming the file, the row (CSV: its line; JSON: its index) and the field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.deployments.model import Incident, parse_time

REQUIRED = ("opened", "service", "environment")
KNOWN = (*REQUIRED, "resolved", "cause_commit", "cause_image", "id")


def load(path: str | Path, default_env: str | None = None) -> list[Incident]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a UTF-8 BOM (Excel's "CSV UTF-8") is fine
    except OSError as exc:
        raise BadInput(f"--incidents {file}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"--incidents {file}: not UTF-8 text (byte {exc.start}; UTF-16, as Excel's "
            '"Unicode Text" writes?)',
            hint="save it as CSV UTF-8",
        ) from None
    if file.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        rows = _json_rows(file, text)
    else:
        rows = _csv_rows(file, text)
    found = [_incident(file, where, row, default_env) for where, row in rows]
    return sorted(found, key=lambda i: i.opened)


def _json_rows(file: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadInput(f"{file}: JSON nested too deeply to be a list of incidents") from None
    if isinstance(data, dict):
        data = data.get("incidents")
    if not isinstance(data, list):
        raise BadInput(f'{file}: expected a list of incidents (or {{"incidents": [...]}})')
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadInput(
                f"{file}: incident {i}: expected an object with opened, resolved, service, environment"
            )
        rows.append((f"incident {i}", item))
    return rows


def _csv_rows(file: Path, text: str) -> list[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise BadInput(
            f"{file}:1: the header has no column {missing[0]!r}", hint=f"columns: {', '.join(KNOWN)}"
        )
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(clean.values()):
            rows.append((f"row {reader.line_num}", clean))
    return rows


def _incident(file: Path, where: str, row: Mapping[str, Any], default_env: str | None) -> Incident:
    def field(name: str, required: bool = False) -> str | None:
        value = row.get(name)
        if value is None or str(value).strip() == "":
            if required:
                raise BadInput(f"{file}: {where}: field {name!r} is empty")
            return None
        if not isinstance(value, str | int | float):
            raise BadInput(f"{file}: {where}: field {name!r} must be a string")
        return str(value).strip()

    def time(name: str, required: bool) -> Any:
        value = field(name, required)
        if value is None:
            return None
        try:
            return parse_time(value)
        except ValueError:
            raise BadInput(
                f"{file}: {where}: field {name!r} is not an ISO 8601 time: {value!r}",
                hint="e.g. 2026-11-30T14:05:00Z",
            ) from None

    opened = time("opened", True)
    resolved = time("resolved", False)
    if resolved is not None and resolved < opened:
        raise BadInput(f"{file}: {where}: field 'resolved' ({resolved.isoformat()}) is before 'opened'")
    env = field("environment") or default_env
    if not env:
        raise BadInput(f"{file}: {where}: field 'environment' is empty")
    return Incident(
        row=where,
        opened=opened,
        resolved=resolved,
        service=str(field("service", True)),
        environment=env,
        cause_commit=field("cause_commit"),
        cause_image=field("cause_image"),
        id=field("id") or "",
    )
