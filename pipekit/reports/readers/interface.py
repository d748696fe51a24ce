"""The reader interface: one module per report format, each knows one format and nothing of policy.

A reader says whether a parsed document is its format (:meth:`Reader.detect`) and turns it into
findings (:meth:`Reader.read`). Shape errors are raised as :class:`Malformed` with a JSON path;
:func:`pipekit.reports.readers.read_report` adds the file name and turns them into ``BadInput``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from pipekit.reports.findings import Finding


class Malformed(Exception):
    """A report that does not have the shape of its format: ``where`` is a JSON path like ``$.a[0].b``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class Reader(ABC):
    name: str  # the --format name
    tool: str  # default tool name for findings

    @abstractmethod
    def detect(self, doc: Any) -> bool:
        """True when ``doc`` (the parsed JSON) is this reader's format."""

    @abstractmethod
    def read(self, doc: Any) -> list[Finding]:
        """Findings of the document; raises :class:`Malformed` for a wrong shape."""


# -- small typed accessors that name the place on error -------------------------------
def _tname(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(where, f"expected an object, got {_tname(value)}")
    return value


def each(parent: dict[str, Any], key: str, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(json path, object)`` for every item of the array ``parent[key]`` (each must be an object)."""
    for i, raw in enumerate(arr(parent, key, where)):
        at = f"{where}.{key}[{i}]"
        yield at, obj(raw, at)


def arr(parent: dict[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    """``parent[key]`` as a list: missing or null is an empty list (tools omit empty fields)."""
    value = parent.get(key)
    if value is None:
        if required:
            raise Malformed(where, f"missing required field {key!r}")
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where}.{key}", f"expected an array, got {_tname(value)}")
    return value


def sub(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """``parent[key]`` as an object; missing or null is empty."""
    value = parent.get(key)
    if value is None:
        return {}
    return obj(value, f"{where}.{key}")


def text(parent: dict[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = parent.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Malformed(f"{where}.{key}", f"expected a string, got {_tname(value)}")
    return str(value)


def integer(parent: dict[str, Any], key: str, where: str) -> int | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Malformed(f"{where}.{key}", "expected a number, got boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise Malformed(f"{where}.{key}", f"expected an integer, got {value!r}")
