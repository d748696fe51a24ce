"""The run record's typed side: a step's result dataclass, with the fields that go into the record marked.

A result class derives from :class:`Recorded` with a ``SECTION``; a field whose metadata is
:data:`RECORDED` (or :func:`record`) goes into ``steps.<SECTION>.outputs`` under its name (or
``key=``). A step writes ``result.write_to(outputs)`` inside ``record.recording(X.SECTION)`` as its
result fills in (None is not written); a later step reads ``X.read(record)``, whose ``step_status``
tells a failed run's leftovers from a success. Apart from :mod:`pipekit.core.outputs` so that a step
can declare its result without loading the others (``pipekit notify --help`` stays quick).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from pipekit.core.runrecord import RunRecord, Status

R = TypeVar("R", bound="Recorded")
_RECORD = "pipekit.recorded"


@dataclass(frozen=True)
class _Spec:
    key: str | None  # the record's name for the field (default: the field's)
    state: bool  # kept across runs of the step (not cleared when it starts again)
    value: Callable[[Any], Any] | None  # what is written, from the result (default: the field's value)
    read: Callable[[Any], Any] | None  # the field's value from what was written


def record(
    key: str | None = None,
    *,
    state: bool = False,
    value: Callable[[Any], Any] | None = None,
    read: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Field metadata: this field goes into the run record (under ``key``, the field's name unless
    given); ``value(result)`` when what is written differs (None: not written), ``read(written)`` to
    turn it back; ``state=True`` for state the step keeps across its runs (not printed by ``--json``)::

        gitops_revision: str = field(metadata=record(value=_deployable))
    """
    return {_RECORD: _Spec(key, state, value, read)}


RECORDED = record()  # ``field(metadata=RECORDED)``: recorded as it is, under its own name


def _spec(f: dataclasses.Field[Any]) -> _Spec | None:
    found = f.metadata.get(_RECORD)
    return found if isinstance(found, _Spec) else None


class Recorded:
    """The base of a result that goes into the run record (mixed into the result's dataclass)."""

    SECTION: ClassVar[str] = ""
    step_status: Status | None = None  # on a result read from the record: the step's status there

    @classmethod
    def keep(cls) -> tuple[str, ...]:
        """The keys kept when the step starts again (its state)."""
        return tuple(
            s.key or f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if (s := _spec(f)) is not None and s.state
        )

    @classmethod
    def read(cls: type[R], record: RunRecord) -> R:
        """The step's result as recorded: recorded fields where the record has them, None (or the
        field's default) elsewhere; ``step_status`` says how the step ended."""
        raw = record.step(cls.SECTION).get("outputs")
        outputs = raw if isinstance(raw, dict) else {}
        found = cls.__new__(cls)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # R is a dataclass
            spec = _spec(f)
            if spec is not None and (spec.key or f.name) in outputs:
                value = outputs[spec.key or f.name]
                value = spec.read(value) if spec.read is not None and value is not None else value
            elif f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = None
            object.__setattr__(found, f.name, value)
        found.step_status = record.status(cls.SECTION)
        return found

    @property
    def succeeded(self) -> bool:
        from pipekit.core.runrecord import Status

        return self.step_status is Status.SUCCEEDED

    def describe_status(self) -> str:
        """``error``, ``running``... or ``not recorded``, for a message saying why outputs are not used."""
        return str(self.step_status) if self.step_status is not None else "not recorded"

    def to_outputs(self) -> dict[str, Any]:
        """The record's ``outputs`` mapping (a field still None is not written)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]  # a Recorded is a dataclass
            spec = _spec(f)
            if spec is None:
                continue
            value = spec.value(self) if spec.value is not None else getattr(self, f.name)
            if value is not None:
                out[spec.key or f.name] = value
        return out

    def write_to(self, outputs: dict[str, Any]) -> None:
        outputs.update(self.to_outputs())

    def to_dict(self) -> dict[str, Any]:
        """The result as ``--json`` prints it: every field but the step's state."""
        out = dataclasses.asdict(self)  # type: ignore[call-overload]  # a Recorded is a dataclass
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if (s := _spec(f)) is not None and s.state:
                out.pop(f.name)
        return dict(out)
