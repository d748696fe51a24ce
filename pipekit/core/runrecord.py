"""The run record: one small JSON file that hands results on from step to step.

``.pipekit/run.json`` (``--run-record`` / ``PIPEKIT_RUN_RECORD``), declared as a Bitbucket
artifact. Versioned, one section per step, written atomically (temp file + rename).

Several pipekit processes may share one record (notify for two stages at once, a notify that
started before update-tag finished). Each save takes an exclusive lock (``fcntl.flock`` on
``run.json.lock`` beside it), re-reads the file and applies only the fields *this* process
changed since its last save, so nothing another process wrote meanwhile is lost or reverted.
:meth:`RunRecord.locked` holds the lock over a read-decide-write (notify's "sent once").
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput, ExitCode, Interrupted, PipekitError

VERSION = 1
_RESET = "\0reset-outputs"  # a change that clears a step's outputs (but the keys it keeps)
DEFAULT_PATH = ".pipekit/run.json"


class Status(str, Enum):
    """A step's status in the run record, the cards and the rehearsal: defined here only."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the checked thing failed (exit 1)
    ERROR = "error"  # bad input, an outside system, a bug (exit 2, 3, 5)
    TIMED_OUT = "timed-out"  # exit 4
    INTERRUPTED = "interrupted"  # SIGINT / SIGTERM (exit 130 / 143)
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def for_exit(cls, code: int) -> Status:
        known: dict[int, Status] = {
            ExitCode.OK: cls.SUCCEEDED,
            ExitCode.FAILED: cls.FAILED,
            ExitCode.TIMEOUT: cls.TIMED_OUT,
            ExitCode.SIGINT: cls.INTERRUPTED,
            ExitCode.SIGTERM: cls.INTERRUPTED,
        }
        return known.get(code, cls.ERROR)

    @property
    def finished(self) -> bool:
        return self is not Status.RUNNING

    @property
    def bad(self) -> bool:
        return self in (Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED)


def default_path(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    e = os.environ if env is None else env
    return Path(explicit or e.get("PIPEKIT_RUN_RECORD") or DEFAULT_PATH)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class RunRecord:
    path: Path
    data: dict[str, Any] = field(default_factory=lambda: {"version": VERSION, "steps": {}})
    # What this process changed since its last save: step -> fields (outputs: key -> value).
    _changes: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _held: int = field(default=0, repr=False)
    _fd: int | None = field(default=None, repr=False)
    _guard: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> RunRecord:
        p = default_path(path)
        return cls(p, _read(p))

    # -- reading ------------------------------------------------------------
    @property
    def steps(self) -> dict[str, Any]:
        steps = self.data.setdefault("steps", {})
        assert isinstance(steps, dict)
        return steps

    def step(self, name: str) -> dict[str, Any]:
        section = self.steps.get(name)
        return section if isinstance(section, dict) else {}

    def status(self, name: str) -> Status | None:
        """The recorded status of step ``name`` (None when it never ran or the value is unknown)."""
        try:
            return Status(self.step(name).get("status"))
        except ValueError:
            return None

    # -- writing ------------------------------------------------------------
    def update_step(self, name: str, **fields: Any) -> None:
        outputs = fields.pop("outputs", None)
        change = self._changes.setdefault(name, {})
        change.update(fields)
        if outputs:
            change.setdefault("outputs", {}).update(outputs)
        _apply(self.data, {name: {**fields, **({"outputs": outputs} if outputs else {})}})

    def reset_outputs(self, name: str, keep: Iterable[str] = ()) -> None:
        """Clear step ``name``'s outputs but the ``keep`` keys; applied to the file at the next save
        (the kept keys as the file has them then: marks other processes added meanwhile stay)."""
        change = self._changes.setdefault(name, {})
        change.pop("outputs", None)
        change[_RESET] = tuple(keep)
        _apply(self.data, {name: {_RESET: tuple(keep)}})

    @contextmanager
    def locked(self) -> Iterator[RunRecord]:
        """Hold the record's lock: :attr:`data` is re-read from disk (with this process's unsaved
        changes on top) on entry, and saved on exit, with no other process writing in between."""
        with self._guard:
            self._lock()
            try:
                fresh = _read(self.path)
                _apply(fresh, self._changes)
                self.data = fresh
                yield self
                self.save()
            finally:
                self._unlock()

    def _lock(self) -> None:
        self._held += 1
        if self._held > 1:
            return
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._held -= 1
            raise BadInput(f"{lock}: cannot lock the run record: {exc.strerror or exc}") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd

    def _unlock(self) -> None:
        self._held -= 1
        if self._held == 0 and self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def save(self) -> None:
        """Under the lock: re-read the file, apply this process's changes since its last save,
        write atomically."""
        with self._guard:
            self._lock()
            try:
                merged = _read(self.path)
                _apply(merged, self._changes)
                merged["version"] = VERSION
                self._write(merged)
                self.data = merged
                self._changes = {}
            finally:
                self._unlock()

    def _write(self, merged: dict[str, Any]) -> None:
        from pipekit.core.masking import mask_tree
        from pipekit.core.outfiles import atomic

        with atomic(self.path, "w") as fh:  # masked: the record travels as a Bitbucket artifact
            json.dump(mask_tree(merged), fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")

    @contextmanager
    def recording(self, name: str, keep: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        """Record a step's status, start and duration around a block; yields its outputs dict.

        The previous run's outputs are cleared as the step starts (a failed rerun must not leave
        them beside its error), except the ``keep`` keys: state such as notify's ``sent`` marks.
        """
        from pipekit.core import signals

        outputs: dict[str, Any] = {}
        started = time.monotonic()
        self.reset_outputs(name, keep)
        self.update_step(name, status=Status.RUNNING.value, started_at=utcnow())
        status = Status.ERROR  # anything not caught below is a bug
        try:
            yield outputs
            status = Status.SUCCEEDED
        except PipekitError as exc:
            status = Status.for_exit(int(exc.exit_code))
            raise
        except (Interrupted, KeyboardInterrupt):
            status = Status.INTERRUPTED
            raise
        finally:
            with signals.deferred():  # a second signal must not leave the record half-written
                self.update_step(
                    name,
                    status=status.value,
                    duration_s=round(time.monotonic() - started, 3),
                    finished_at=utcnow(),
                    outputs=outputs,
                )
                self.save()


def _apply(data: dict[str, Any], changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Apply per-step field changes onto ``data`` (outputs merged key by key)."""
    steps = data.setdefault("steps", {})
    for name, fields in changes.items():
        section = steps.get(name)
        if not isinstance(section, dict):
            section = steps[name] = {}
        if _RESET in fields:  # first the reset, then this process's new outputs on top
            previous = section.get("outputs")
            section["outputs"] = (
                {k: previous[k] for k in fields[_RESET] if k in previous}
                if isinstance(previous, dict)
                else {}
            )
        for key, value in fields.items():
            if key == _RESET:
                continue
            if key == "outputs":
                outputs = section.get("outputs")
                if not isinstance(outputs, dict):
                    outputs = section["outputs"] = {}
                outputs.update(value)
            else:
                section[key] = value


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": VERSION, "steps": {}}
    except OSError as exc:
        raise BadInput(f"{path}: cannot read run record: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: run record is not UTF-8 text (byte {exc.start}); delete it to start afresh"
        ) from None
    if not text.strip():
        return {"version": VERSION, "steps": {}}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}:{exc.colno}: run record is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadInput(
            f"{path}: run record nested too deeply to be one pipekit wrote; delete it to start afresh"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("steps", {}), dict):
        raise BadInput(f"{path}: run record must be a JSON object with a 'steps' object")
    version = data.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadInput(
            f"{path}: run record version {version!r} must be a whole number (this pipekit writes {VERSION})"
        )
    if version > VERSION:
        raise BadInput(
            f"{path}: run record version {version} is newer than this pipekit understands ({VERSION})"
        )
    data.setdefault("steps", {})
    return data
