"""What a rehearsal tells and leaves: the result, the summary, the cards as files, the work folder.

Every notification's payload, as the local sink received it, is written to
``<workdir>/cards/NN-<title>.<channel>.json`` in the order sent; the Teams cards become one page,
``<workdir>/cards/index.html``, rendered in the browser by Microsoft's Adaptive Cards renderer
(:mod:`pipekit.rehearsal.card_page`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipekit.core.console import Console

MARKER = ".pipekit-rehearsal"  # a work folder made by pipekit rehearse (safe to empty and reuse)


@dataclass
class CardFile:
    title: str
    channel: str
    path: Path
    payload: Any


@dataclass
class StageOutcome:
    """One step of the pipeline, as the rehearsal ran it."""

    name: str
    status: str  # run-pipeline's: passed, failed, timed-out, paused, skipped, stopped, not-run
    duration_s: float = 0.0
    detail: str = ""  # the step's last OK: or ERROR: line
    ran_in: str = ""
    approved: bool = False  # a manual step the rehearsal approved
    tools_s: dict[str, float] = field(default_factory=dict)  # seconds in the tools pipekit drove, by tool


@dataclass
class Substitution:
    what: str  # the real thing that cannot run here
    instead: str
    setting: str  # the documented variable or configuration through which it is substituted


@dataclass
class RehearseResult:
    service: str
    workdir: str
    stages: list[StageOutcome] = field(default_factory=list)
    substitutions: list[Substitution] = field(default_factory=list)
    where: str = ""  # where the steps ran, and why
    onboarding: str = ""  # init's one-line summary
    maven_cache: str = ""
    notifications: int = 0
    code_insights: int = 0  # Code Insights requests (report and annotations) the Bitbucket API stand-in got
    pull_requests: list[str] = field(default_factory=list)  # each environment's pull request, as a line
    cards: list[CardFile] = field(default_factory=list)
    card_page: str = ""
    card_page_note: str = ""
    dora: str = ""
    history: str = ""
    fail_at: str | None = None
    fail_step: str = ""  # the step --fail-at makes fail
    unsigned: str = ""  # --fail-at signature: the signature deleted
    kept: bool = False
    duration_s: float = 0.0
    tools_s: dict[str, float] = field(default_factory=dict)  # on the pipeline's path, by tool
    pipekit_s: float = 0.0  # pipekit's own share: everything but the tools it drives
    cleanup_problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.stages if s.status in ("failed", "timed-out", "stopped")]

    @property
    def failed_as_requested(self) -> bool:
        return bool(self.fail_at) and self.failed == [self.fail_step]

    @property
    def ok(self) -> bool:
        return not self.failed and all(s.status in ("passed", "skipped") for s in self.stages)


def title_of(payload: Any) -> str:
    """The first line a person reads: a Teams card's first TextBlock, a Slack message's text."""
    if isinstance(payload, Mapping):
        if isinstance(payload.get("text"), str):
            return payload["text"].splitlines()[0] if payload["text"] else ""
        for attachment in payload.get("attachments") or []:
            found = _first_text(
                (attachment or {}).get("content") if isinstance(attachment, Mapping) else None
            )
            if found:
                return found
    return ""


def _first_text(node: Any) -> str:
    if isinstance(node, Mapping):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            return str(node["text"])
        for value in node.values():
            found = _first_text(value)
            if found:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _first_text(item)
            if found:
                return found
    return ""


def write_cards(requests: Sequence[Any], folder: Path) -> list[CardFile]:
    """Each Teams and Slack request's payload as a file, numbered in the order received."""
    out: list[CardFile] = []
    for request in requests:
        channel = request.path.lstrip("/").split("/", 1)[0]
        if channel not in ("teams", "slack"):
            continue
        try:
            payload = request.json
        except ValueError:
            continue
        title = title_of(payload)
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:48] or "message"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(out) + 1:02d}-{slug}.{channel}.json"
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.append(CardFile(title, channel, path, payload))
    return out


def card_page(cards: Sequence[CardFile], folder: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """The page of every Teams card (``folder/index.html``) and a note on how it renders."""
    from pipekit.rehearsal import card_page as page

    entries = page.cards_from_payloads(
        [(f"{c.path.name[:2]}: {c.title}", c.payload) for c in cards if c.channel == "teams"]
    )
    note = ""
    try:
        modules = page.ensure_renderer(env, timeout=60)
    except Exception as exc:  # no network for npm, say: the page still lists every card's JSON
        modules, note = (
            None,
            f"the Adaptive Cards renderer could not be installed ({type(exc).__name__}: {exc})",
        )
    if modules is None and not note:
        note = "npm not found: the page lists the cards' JSON without rendering them (apt-get install -y npm)"
    return page.write_page(entries, folder / "index.html", modules), note


def prepare_workdir(path: Path) -> bool:
    """Make ``path`` ready for a rehearsal; True when the folder did not exist (so :func:`remove` removes it).

    An empty or missing folder is used; a previous rehearsal's (it holds :data:`MARKER`) is emptied;
    anything else is refused: the rehearsal never deletes what it did not make."""
    from pipekit.core.errors import BadInput

    if path.exists() and not path.is_dir():
        raise BadInput(f"--workdir {path}: not a folder; name an empty folder or a new path")
    entries = list(path.iterdir()) if path.is_dir() else []
    created = not path.exists()
    if entries and not (path / MARKER).is_file():
        raise BadInput(
            f"--workdir {path}: the folder is not empty and not a previous rehearsal's "
            f"(no {MARKER}); name an empty folder or a new path"
        )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text(
        "made by pipekit rehearse; the next rehearsal in this folder empties it\n", encoding="utf-8"
    )
    return created


def remove(workdir: Path, *, created: bool) -> None:
    """Remove a work folder the rehearsal created; empty one the user named (it stays, empty)."""
    if created:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for entry in list(workdir.iterdir()) if workdir.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def artifacts(workdir: Path) -> list[tuple[str, Path]]:
    """(what, where) for everything a rehearsal may leave, in the order a user looks for them."""
    return [
        ("sample service checkout (init's files committed)", workdir / "demo-service"),
        ("pipeline runs: each step's log, artifacts, clone", workdir / "run" / "steps"),
        ("variables the pipeline ran with", workdir / "variables.json"),
        ("cards (JSON, one per notification)", workdir / "cards"),
        ("card page (Teams cards, rendered)", workdir / "cards" / "index.html"),
        ("GitOps repository (bare)", workdir / "git" / "gitops.git"),
        ("pull requests (as the Bitbucket stand-in held them)", workdir / "pull-requests"),
        ("PostSync Jobs (log, JUnit)", workdir / "hooks"),
        ("DORA report", workdir / "dora.html"),
    ]


def summary(console: Console, result: RehearseResult) -> None:
    """The pipeline's steps (result, time, where, what each did), what was substituted,
    the timing, the cards."""
    rows = [
        (
            s.name + (" (approved)" if s.approved else ""),
            s.status,
            f"{s.duration_s:.1f} s" if s.status not in ("not-run", "skipped") else "",
            s.detail,
        )
        for s in result.stages
    ]
    console.table(
        ["step", "result", "time", "what it did"], rows, title=f"Rehearsal of {result.service}'s pipeline"
    )
    console.info(f"where: {result.where}")
    console.table(
        ["cannot run here", "substituted by", "through"],
        [(s.what, s.instead, s.setting) for s in result.substitutions],
        title="Substituted",
    )
    if result.fail_at:
        outcome = "failed as requested" if result.failed_as_requested else "did NOT fail as requested"
        not_run = [s.name for s in result.stages if s.status == "not-run"]
        console.warn(
            f"--fail-at {result.fail_at} ({what_of(result.fail_at)}): {result.fail_step or 'no step'} "
            f"{outcome}; not run after it: {', '.join(not_run) or 'nothing'}"
        )
    tools = ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in sorted(result.tools_s.items(), key=lambda kv: -kv[1])
    )
    console.info(
        f"{result.duration_s:.1f} s in all: the tools pipekit drives {sum(result.tools_s.values()):.1f} s "
        f"({tools or 'none'}), pipekit's own share {result.pipekit_s:.1f} s"
    )
    for line in result.pull_requests:
        console.info(line)
    console.info(
        f"{result.notifications} notification(s) and {result.code_insights} Code Insights request(s) "
        f"delivered to the local sink, {len(result.cards)} card file(s); nothing left this machine."
    )
    if result.card_page_note:
        console.warn(f"card page: {result.card_page_note}")
    if not result.kept:
        console.info(
            "the work folder was removed; --keep keeps it (each step's log and clone, the cards and "
            "their page, the GitOps repository)"
        )
        return
    workdir = Path(result.workdir)
    kept = [
        (what, str(where) if where.exists() else f"{where} (not produced)")
        for what, where in artifacts(workdir)
    ]
    console.table(["artifact", "where"], kept, title=f"Kept in {workdir}")
    if result.card_page:
        console.info(f"open the card page: {Path(result.card_page).as_uri()}")


def what_of(fail_at: str) -> str:
    from pipekit.rehearsal.failures import WHAT

    return WHAT.get(fail_at, fail_at)
