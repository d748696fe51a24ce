"""Judge one Argo CD Application against an expected GitOps revision (pure, no I/O).

Argo CD reports success too early in three well-known ways: right after a push it still shows
the *old* sync as Synced/Healthy; a failed PostSync hook leaves the app Synced/Healthy while
only ``operationState.phase`` says Failed; and an automated retry puts the phase back to
Running with ``finishedAt`` already filled. :func:`judge` therefore asks, for revision E:

- ``status.sync.revision == E`` and ``status.operationState.syncResult.revision == E``
- ``operationState.phase == Succeeded`` and no pending top-level ``operation``
- ``status.reconciledAt >= operationState.finishedAt`` (health was judged after the sync)
- ``status.sync.status == Synced`` and ``status.health.status == Healthy``
- every ``syncResult.resources[]`` entry with a ``hookType`` has ``hookPhase == Succeeded``

and answers a :class:`Verdict`: ``waiting`` (with what is still missing), ``succeeded``,
``failed`` (the operation for E ended Failed/Error, or a hook failed) or ``degraded``
(health Degraded at E; the caller applies a grace period).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

WAITING, SUCCEEDED, FAILED, DEGRADED = "waiting", "succeeded", "failed", "degraded"
TERMINAL_FAILED = frozenset({"Failed", "Error"})
HOOK_FAILED = frozenset({"Failed", "Error"})


@dataclass(frozen=True)
class Hook:
    """One ``syncResult.resources[]`` entry that is a hook (``hookType`` set)."""

    hook_type: str
    kind: str
    name: str
    namespace: str
    phase: str
    message: str

    @property
    def label(self) -> str:
        return f"{self.hook_type} {self.kind}/{self.name}"

    def log_hint(self, app: str) -> str:
        """How to read this hook's logs (a Job's, usually)."""
        ns = f" -n {self.namespace}" if self.namespace else ""
        kind = self.kind.lower() or "job"
        return (
            f"kubectl logs {kind}/{self.name}{ns}"
            f"  or  argocd app logs {app} --kind {self.kind or 'Job'} --name {self.name}"
        )


@dataclass(frozen=True)
class AppState:
    """The fields of an Application that decide a deployment, flattened."""

    name: str
    sync: str = ""
    health: str = ""
    health_message: str = ""
    sync_revision: str = ""
    sync_revisions: tuple[str, ...] = ()
    phase: str = ""
    op_revision: str = ""  # syncResult.revision
    op_revisions: tuple[str, ...] = ()
    op_target: str = ""  # operationState.operation.sync.revision (what the operation was asked to sync)
    op_message: str = ""
    retry_count: int = 0
    started_at: str = ""
    finished_at: str = ""
    reconciled_at: str = ""
    pending_operation: bool = False
    hooks: tuple[Hook, ...] = ()

    @classmethod
    def from_app(cls, app: Mapping[str, Any]) -> AppState:
        meta = _obj(app.get("metadata"))
        status = _obj(app.get("status"))
        sync = _obj(status.get("sync"))
        health = _obj(status.get("health"))
        op = _obj(status.get("operationState"))
        result = _obj(op.get("syncResult"))
        target = _obj(_obj(op.get("operation")).get("sync"))
        hooks = tuple(
            Hook(
                hook_type=str(r.get("hookType")),
                kind=str(r.get("kind") or ""),
                name=str(r.get("name") or ""),
                namespace=str(r.get("namespace") or ""),
                phase=str(r.get("hookPhase") or ""),
                message=str(r.get("message") or ""),
            )
            for r in _list(result.get("resources"))
            if isinstance(r, dict) and r.get("hookType")
        )
        return cls(
            name=str(meta.get("name") or ""),
            sync=str(sync.get("status") or ""),
            health=str(health.get("status") or ""),
            health_message=str(health.get("message") or ""),
            sync_revision=str(sync.get("revision") or ""),
            sync_revisions=tuple(str(r) for r in _list(sync.get("revisions"))),
            phase=str(op.get("phase") or ""),
            op_revision=str(result.get("revision") or ""),
            op_revisions=tuple(str(r) for r in _list(result.get("revisions"))),
            op_target=str(target.get("revision") or ""),
            op_message=str(op.get("message") or ""),
            retry_count=int(op.get("retryCount") or 0),
            started_at=str(op.get("startedAt") or ""),
            finished_at=str(op.get("finishedAt") or ""),
            reconciled_at=str(status.get("reconciledAt") or ""),
            pending_operation=bool(app.get("operation")),
            hooks=hooks,
        )

    # -- revision helpers -------------------------------------------------
    def synced_to(self, expected: str) -> bool:
        return same_revision(self.sync_revision, expected) or any(
            same_revision(r, expected) for r in self.sync_revisions
        )

    def operation_for(self, expected: str) -> bool:
        """Whether the current operation (result or request) is about revision ``expected``."""
        revs = (self.op_revision, self.op_target, *self.op_revisions)
        return any(same_revision(r, expected) for r in revs)

    def summary(self) -> dict[str, Any]:
        """The run record / --json shape: {name, sync, health, revision, phase, hooks}."""
        return {
            "name": self.name,
            "sync": self.sync,
            "health": self.health,
            "revision": self.sync_revision,
            "phase": self.phase,
            "hooks": [
                {
                    "type": h.hook_type,
                    "kind": h.kind,
                    "name": h.name,
                    "namespace": h.namespace,
                    "phase": h.phase,
                    "message": h.message,
                }
                for h in self.hooks
            ],
        }


@dataclass(frozen=True)
class Verdict:
    status: str  # waiting | succeeded | failed | degraded
    missing: tuple[str, ...] = ()
    reason: str = ""
    failed_hooks: tuple[Hook, ...] = field(default=())

    @property
    def done(self) -> bool:
        return self.status in (SUCCEEDED, FAILED)


def same_revision(actual: str, expected: str) -> bool:
    """Equal, or ``expected`` is an abbreviated SHA (>= 7 hex digits) of ``actual``."""
    if not actual or not expected:
        return False
    if actual == expected:
        return True
    exp = expected.lower()
    return (
        7 <= len(exp) < len(actual)
        and all(c in "0123456789abcdef" for c in exp)
        and actual.lower().startswith(exp)
    )


def parse_time(value: str) -> datetime | None:
    """An RFC3339 time as Argo CD (Go) writes it: ``2026-11-26T11:00:00Z``, maybe with fractions."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python 3.10 accepts at most 6 fraction digits
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def short(rev: str) -> str:
    return rev[:7] if len(rev) > 12 else (rev or "none")


def judge(app: Mapping[str, Any] | AppState, expected: str) -> Verdict:
    """The verdict for one Application and the expected revision ``expected``."""
    s = app if isinstance(app, AppState) else AppState.from_app(app)
    op_for_e = s.operation_for(expected)

    # Fail fast: the operation for E has ended Failed/Error (and nothing newer is queued).
    # A retry sets the phase back to Running with finishedAt filled: that is not the end.
    if op_for_e and s.phase in TERMINAL_FAILED and not s.pending_operation:
        failed = tuple(h for h in s.hooks if h.phase in HOOK_FAILED)
        if failed:
            h = failed[0]
            reason = f"hook {h.label} {h.phase}: {h.message or s.op_message or 'no message'}"
        else:
            reason = f"sync operation for {short(expected)} ended {s.phase}: {s.op_message or 'no message'}"
        return Verdict(FAILED, reason=reason, failed_hooks=failed)
    if op_for_e and s.phase == "Succeeded" and not s.pending_operation:
        failed = tuple(h for h in s.hooks if h.phase in HOOK_FAILED)
        if failed:
            h = failed[0]
            return Verdict(
                FAILED, reason=f"hook {h.label} {h.phase}: {h.message or 'no message'}", failed_hooks=failed
            )

    missing: list[str] = []
    if not s.synced_to(expected):
        missing.append(f"sync revision is {short(s.sync_revision)}, want {short(expected)}")
    if not (
        same_revision(s.op_revision, expected) or any(same_revision(r, expected) for r in s.op_revisions)
    ):
        missing.append(f"last sync operation was for {short(s.op_revision)}, want {short(expected)}")
    if s.phase != "Succeeded":
        extra = ""
        if s.phase == "Running" and s.retry_count:
            extra = (
                f" (retry #{s.retry_count}: {s.op_message})" if s.op_message else f" (retry #{s.retry_count})"
            )
        missing.append(f"operation phase {s.phase or 'none'}{extra}, want Succeeded")
    if s.pending_operation:
        missing.append("an operation is still pending")
    finished, reconciled = parse_time(s.finished_at), parse_time(s.reconciled_at)
    if finished is None:
        if s.phase == "Succeeded":
            missing.append("operation has no finishedAt")
    elif reconciled is None or reconciled < finished:
        missing.append(f"reconciledAt {s.reconciled_at or 'none'} is before finishedAt {s.finished_at}")
    if s.sync != "Synced":
        missing.append(f"sync {s.sync or 'Unknown'}, want Synced")
    if s.health != "Healthy":
        msg = f": {s.health_message}" if s.health_message else ""
        missing.append(f"health {s.health or 'Unknown'}{msg}, want Healthy")
    for h in s.hooks:
        if h.phase != "Succeeded":
            msg = f": {h.message}" if h.message and h.phase in HOOK_FAILED else ""
            missing.append(f"hook {h.label} {h.phase or 'Pending'}{msg}, want Succeeded")

    if not missing:
        return Verdict(SUCCEEDED)
    if s.health == "Degraded" and s.synced_to(expected):
        msg = f": {s.health_message}" if s.health_message else ""
        return Verdict(DEGRADED, missing=tuple(missing), reason=f"health Degraded at {short(expected)}{msg}")
    return Verdict(WAITING, missing=tuple(missing))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
