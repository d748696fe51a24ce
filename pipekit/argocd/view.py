"""Progress output for ``wait-for-argocd``: a live table on a terminal, one line per change in CI."""

from __future__ import annotations

from typing import Any

from pipekit.argocd.state import AppState, Hook, Verdict, short
from pipekit.core.console import Console
from pipekit.core.masking import mask

HEADERS = ("app", "sync", "health", "revision", "operation", "hooks", "state")


def hooks_text(hooks: tuple[Hook, ...]) -> str:
    if not hooks:
        return "-"
    done = sum(1 for h in hooks if h.phase == "Succeeded")
    pending = [f"{h.kind}/{h.name} {h.phase or 'Pending'}" for h in hooks if h.phase != "Succeeded"]
    return f"{done}/{len(hooks)}" + (f" ({', '.join(pending)})" if pending else "")


def row(name: str, state: AppState | None, verdict: Verdict | None) -> tuple[str, ...]:
    if state is None:
        return (name, "?", "?", "?", "?", "?", "connecting")
    op = state.phase or "-"
    if state.retry_count:
        op += f" (retry {state.retry_count})"
    return (
        name,
        state.sync or "?",
        state.health or "?",
        short(state.sync_revision),
        op,
        hooks_text(state.hooks),
        verdict.status if verdict else "?",
    )


class Progress:
    """Shows each app's sync, health, operation and hooks as they change."""

    def __init__(self, console: Console, names: list[str], revision: str) -> None:
        self.console = console
        self.names = names
        self.revision = revision
        self.rows: dict[str, tuple[str, ...]] = {n: row(n, None, None) for n in names}
        self._live: Any = None

    def start(self) -> None:
        self.console.info(f"waiting for {', '.join(self.names)} at revision {short(self.revision)}")
        if self.console.fancy:
            from rich.live import Live

            self._live = Live(
                self._table(), console=self.console._rich_console(), refresh_per_second=4, transient=False
            )
            self._live.start()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=f"Argo CD, revision {short(self.revision)}")
        for h in HEADERS:
            table.add_column(h)
        for r in self.rows.values():
            table.add_row(*(mask(c) for c in r))
        return table

    def update(self, name: str, state: AppState, verdict: Verdict) -> None:
        new = row(name, state, verdict)
        if new == self.rows.get(name):
            return
        self.rows[name] = new
        if self._live is not None:
            self._live.update(self._table())
            return
        _, sync, health, rev, op, hooks, status = new
        self.console.info(
            f"{name}: sync={sync} health={health} revision={rev} operation={op} hooks={hooks} -> {status}"
        )

    def note(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(mask(text))
        else:
            self.console.info(text)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
