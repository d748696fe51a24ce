"""The one registry idiom (scanner runners, report writers, channels, DORA writers, doctor checks):
``Registry({"name": "package.module:ATTRIBUTE", ...})``, each module imported when it is used."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def find(self, name: str) -> T | None:
        """The implementation called ``name`` (its module imported now), None when there is none."""
        target = self._entries.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        found: T = getattr(importlib.import_module(module), attribute)
        return found

    def all(self) -> dict[str, T]:
        """Every implementation, in the registry's order."""
        return {name: found for name in self._entries if (found := self.find(name)) is not None}
