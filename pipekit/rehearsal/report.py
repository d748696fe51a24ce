"""What a rehearsal leaves for its user: the cards as files, the page of Teams cards, the artifact list.

Every notification's payload, as the local sink received it, is written to
``<workdir>/cards/NN-<event>-<stage>.<channel>.json`` in the order sent; the Teams cards become one
page, ``<workdir>/cards/index.html``, rendered in the browser by Microsoft's Adaptive Cards renderer
(:mod:`pipekit.rehearsal.card_page`). :func:`artifacts` names where each thing the rehearsal made is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.process import install_hint
from pipekit.core.runrecord import Status
from pipekit.rehearsal.failures import WHAT

if TYPE_CHECKING:
    from pipekit.core.console import Console

MARKER = ".pipekit-rehearsal"  # a work folder made by pipekit rehearse (safe to empty and reuse)


@dataclass
class CardFile:
    event: str
    stage: str
    channel: str
    path: Path
    payload: Any


@dataclass
class StageOutcome:
    name: str
    status: Status  # SUCCEEDED, FAILED, SKIPPED
    detail: str = ""
    duration_s: float = 0.0
    ran: bool = True  # False: not reached, a stage before it failed

    @property
    def shown_status(self) -> str:
        return str(self.status) if self.ran else "not run"


@dataclass
class Sent:
    event: str
    stage: str
    channel: str
    status: str
    rendering: str = ""
    card: str = ""  # the payload's file under <workdir>/cards


@dataclass
class RehearseResult:
    service: str
    workdir: str
    stages: list[StageOutcome] = field(default_factory=list)
    notifications: list[Sent] = field(default_factory=list)
    duration_s: float = 0.0
    cleanup_problems: list[str] = field(default_factory=list)
    dora: str = ""  # the DORA report over what was deployed (table shown, HTML file in the work folder)
    history: str = ""  # pipekit history of the sample service (shown)
    fail_at: str | None = None
    fail_stage: str = ""  # the stage --fail-at makes fail
    card_page: str = ""  # <workdir>/cards/index.html
    card_page_note: str = ""
    kept: bool = False
    cards: list[CardFile] = field(default_factory=list)

    @property
    def failed_as_requested(self) -> bool:
        return bool(self.fail_at) and [s.name for s in self.stages if s.status is Status.FAILED] == [
            self.fail_stage]

    @property
    def ok(self) -> bool:
        return all(s.status is not Status.FAILED for s in self.stages)


def card_name(order: int, event: str, stage: str, channel: str) -> str:
    safe = "-".join(re.sub(r"[^a-z0-9_]+", "_", part.lower()) for part in (event, stage))
    return f"{order:02d}-{safe}.{re.sub(r'[^a-z0-9_.-]+', '_', channel.lower())}.json"


def write_card(folder: Path, order: int, event: str, stage: str, channel: str, payload: Any,
               name: str | None = None) -> CardFile:
    """``channel`` is the channel's type; a channel named otherwise (``notify.channels``) adds its name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / card_name(order, event, stage, channel if name in (None, channel) else f"{name}.{channel}")
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return CardFile(event, stage, channel, path, payload)


def card_page(cards: Sequence[CardFile], folder: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """The page of every Teams card (``folder/index.html``) and a note on how it renders."""
    from pipekit.rehearsal import card_page as page

    teams = [(f"{c.path.name[:2]}: {c.event} ({c.stage})", c.payload) for c in cards if c.channel == "teams"]
    entries = page.cards_from_payloads(teams)
    note = ""
    try:
        modules = page.ensure_renderer(env, timeout=60)
    except Exception as exc:  # no network for npm, say: the page still lists every card's JSON
        modules, note = None, f"the Adaptive Cards renderer could not be installed ({type(exc).__name__}: {exc})"
    if modules is None and not note:
        note = f"npm not found: the page lists the cards' JSON without rendering them (install {install_hint('npm')})"
    return page.write_page(entries, folder / "index.html", modules), note


def prepare_workdir(path: Path) -> bool:
    """Make ``path`` ready for a rehearsal; True when the folder did not exist (so :func:`remove` removes it).

    An empty or missing folder is used; a previous rehearsal's (it holds :data:`MARKER`) is emptied;
    anything else is refused: the rehearsal never deletes what it did not make."""
    import shutil

    from pipekit.core.errors import BadInput

    if path.exists() and not path.is_dir():
        raise BadInput(f"--workdir {path}: not a folder; name an empty folder or a new path")
    entries = list(path.iterdir()) if path.is_dir() else []
    created = not path.exists()
    if entries and not (path / MARKER).is_file():
        raise BadInput(f"--workdir {path}: the folder is not empty and not a previous rehearsal's "
                       f"(no {MARKER}); name an empty folder or a new path")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by pipekit rehearse; the next rehearsal in this folder empties it\n",
                               encoding="utf-8")
    return created


def remove(workdir: Path, *, created: bool) -> None:
    """Remove a work folder the rehearsal created; empty one the user named (it stays, empty)."""
    import shutil

    if created:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for entry in list(workdir.iterdir()) if workdir.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def artifacts(workdir: Path, service: str) -> list[tuple[str, Path]]:
    """(what, where) for everything a rehearsal may leave, in the order a user looks for them."""
    return [
        ("run record", workdir / "run.json"),
        ("cards (JSON, one per notification)", workdir / "cards"),
        ("card page (Teams cards, rendered)", workdir / "cards" / "index.html"),
        ("SARIF (scan)", workdir / "scan.sarif"),
        ("semgrep report (local rules)", workdir / "scan" / "semgrep-report.json"),
        ("JUnit (merged)", workdir / "junit.xml"),
        ("JUnit (Maven's reports)", workdir / service / "target" / "surefire-reports"),
        ("DORA report", workdir / "dora.html"),
        ("GitOps repository (bare)", workdir / "gitops.git"),
        ("pipekit.yaml used", workdir / "pipekit.yaml"),
        ("sample service checkout", workdir / service),
    ]


def summary(console: Console, result: RehearseResult) -> None:
    """The table of stages (status, time, what each produced), the cards and, with --keep, the artifacts."""
    rows = [(s.name, s.shown_status, f"{s.duration_s:.1f} s" if s.status is not Status.SKIPPED else "", s.detail)
            for s in result.stages]
    console.table(["stage", "status", "time", "produced"], rows, title="Rehearsal")
    if result.fail_at:
        wanted, not_run = result.fail_stage, [s.name for s in result.stages if not s.ran]
        outcome = "failed as requested" if result.failed_as_requested else "did NOT fail as requested"
        console.warn(f"--fail-at {result.fail_at} (requested: {WHAT[result.fail_at]}): {wanted} {outcome}; "
                     f"not run after it: {', '.join(not_run) or 'nothing (it was the last stage)'}")
    delivered = sum(n.status == "sent" for n in result.notifications)
    console.info(f"{delivered} notification(s) delivered to the local sink, {len(result.cards)} card file(s); "
                 f"nothing left this machine ({result.duration_s:.1f} s in all).")
    if result.card_page_note:
        console.warn(f"card page: {result.card_page_note}")
    if not result.kept:
        console.info("the work folder was removed; --keep keeps it (cards, card page, run record, SARIF, JUnit, "
                     "GitOps repository)")
        return
    workdir = Path(result.workdir)
    kept = [(what, str(where) if where.exists() else f"{where} (not produced)")
            for what, where in artifacts(workdir, result.service)]
    console.table(["artifact", "where"], kept, title=f"Kept in {workdir}")
    if result.card_page:
        console.info(f"open the card page: {Path(result.card_page).as_uri()}")
