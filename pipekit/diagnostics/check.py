"""The shapes every check kind shares: a :class:`Check` to run, the :class:`CheckOutcome` it returns,
and the :class:`DoctorPlan` (what to check against) that the kinds read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipekit.baseimage.manifest import Manifest
    from pipekit.core.config import Config

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MARKS = {OK: "✓", WARN: "!", FAIL: "✗", SKIP: "–"}


@dataclass
class CheckOutcome:
    status: str  # ok | warn | fail | skip
    summary: str  # one line: what was found (never a secret)
    fix: str = ""  # one line: what to do, when not ok
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str  # "tool:kubectl", "endpoint:argocd", ...
    kind: str
    run: Callable[[], CheckOutcome]


@dataclass
class DoctorPlan:
    """Everything the checks read: the manifest (or image.json), the config, the environment."""

    manifest: Manifest | None
    config: Config | None
    env: Mapping[str, str]
    timeout: float = 5.0  # per endpoint check, seconds
    base_dir: str = "."  # where relative paths in the manifest (the lock) are resolved
    image: bool = False  # checking a pipekit image against its own image.json (doctor --image)

    def config_value(self, dotted: str) -> Any:
        return self.config.get(dotted) if self.config is not None else None


def ok(summary: str, **details: Any) -> CheckOutcome:
    return CheckOutcome(OK, summary, details=details)


def warn(summary: str, fix: str, **details: Any) -> CheckOutcome:
    return CheckOutcome(WARN, summary, fix, details)


def fail(summary: str, fix: str, **details: Any) -> CheckOutcome:
    return CheckOutcome(FAIL, summary, fix, details)


def skip(summary: str, **details: Any) -> CheckOutcome:
    return CheckOutcome(SKIP, summary, details=details)
