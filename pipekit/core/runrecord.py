"""The run record: one small JSON file that hands results on from step to step.

``.pipekit/run.json`` (``--run-record`` / ``PIPEKIT_RUN_RECORD``), declared as a Bitbucket
artifact. Versioned, one section per step, written atomically (temp file + rename) and
merged on save so that a step never drops another step's section.
"""

from __future__ import annotations

import json
import os
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
        return {
            ExitCode.OK: cls.SUCCEEDED, ExitCode.FAILED: cls.FAILED, ExitCode.TIMEOUT: cls.TIMED_OUT,
            ExitCode.SIGINT: cls.INTERRUPTED, ExitCode.SIGTERM: cls.INTERRUPTED,
        }.get(code, cls.ERROR)  # type: ignore[call-overload]

    @property
    def finished(self) -> bool:
        return self is not Status.RUNNING

    @property
    def bad(self) -> bool:
        return self in (Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED)


def default_path(explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    e = os.environ if env is None else env
    return Path(explicit or e.get("PIPEKIT_RUN_RECORD") or DEFAULT_PATH)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class RunRecord:
    path: Path
    data: dict[str, Any] = field(default_factory=lambda: {"version": VERSION, "steps": {}})

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

    def output(self, step: str, key: str, default: Any = None) -> Any:
        """An output of an earlier step, e.g. ``output("build", "image")``."""
        outputs = self.step(step).get("outputs")
        if isinstance(outputs, dict) and key in outputs:
            return outputs[key]
        return default

    def find(self, key: str, *steps: str, default: Any = None) -> Any:
        """The first of ``steps`` (newest first) that recorded ``key``."""
        for name in steps:
            value = self.output(name, key)
            if value is not None:
                return value
        return default

    # -- writing ------------------------------------------------------------
    def update_step(self, name: str, **fields: Any) -> None:
        section = self.steps.setdefault(name, {})
        outputs = fields.pop("outputs", None)
        section.update(fields)
        if outputs:
            section.setdefault("outputs", {}).update(outputs)

    def save(self) -> None:
        """Merge with what is on disk now (other steps' sections win for their own keys) and write atomically."""
        on_disk = _read(self.path) if self.path.exists() else {}
        merged = {**on_disk, **self.data}
        steps = dict(on_disk.get("steps", {}))
        steps.update(self.steps)
        merged["steps"] = steps
        merged["version"] = VERSION
        self.data = merged
        self.path.parent.mkdir(parents=True, exist_ok=True)

        # A unique temp name beside the target (O_EXCL), then rename: tempfile would pull in
        # shutil/bz2/lzma at start-up for this one call.
        tmp = str(self.path.parent / f".run.{os.getpid()}.{os.urandom(4).hex()}.json")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(merged, fh, indent=2, sort_keys=True, default=str)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def recording(self, name: str, keep: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        """Record a step's status, start and duration around a block; yields its outputs dict.

        The previous run's outputs are cleared as the step starts (a failed rerun must not leave
        them beside its error), except the ``keep`` keys: state such as notify's ``sent`` marks.
        """
        from pipekit.core import signals

        outputs: dict[str, Any] = {}
        started = time.monotonic()
        previous = self.step(name).get("outputs")
        kept = {k: previous[k] for k in keep if k in previous} if isinstance(previous, dict) else {}
        self.steps[name] = {**self.step(name), "outputs": kept}
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


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": VERSION, "steps": {}}
    except OSError as exc:
        raise BadInput(f"{path}: cannot read run record: {exc.strerror or exc}") from None
    if not text.strip():
        return {"version": VERSION, "steps": {}}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}:{exc.colno}: run record is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps", {}), dict):
        raise BadInput(f"{path}: run record must be a JSON object with a 'steps' object")
    version = data.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise BadInput(f"{path}: run record version {version!r} is newer than this pipekit understands ({VERSION})")
    data.setdefault("steps", {})
    return data
