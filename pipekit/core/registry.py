"""The one registry idiom: implementations of an interface by name, one module each, imported when used.

Scanner runners, report writers, notification channels, DORA writers and doctor checks each
name theirs in one :class:`Registry` of ``"name": "package.module:ATTRIBUTE"`` entries, so a new
one is a module and a line, and a command loads only the implementations it uses::

    CHANNELS: Registry[Channel] = Registry({"teams": "pipekit.channels.teams:CHANNEL", ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

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
