"""The repository, branch and overlay layout for reading history: the same ``gitops.*`` settings
(pipekit.yaml, ``PIPEKIT_GITOPS_*``) as update-tag (:class:`RepoOptions`, shared by dora and history);
how status and diff write their report and read the promotion chain (:class:`ReportOptions`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pipekit.core.errors import BadInput
from pipekit.core.options import option, ref
from pipekit.core.step import StepContext
from pipekit.deployments.layout import Layout
from pipekit.deployments.model import parse_time
from pipekit.gitops import overlay as ov
from pipekit.gitops.settings import RepoOptions

__all__ = ["ReportOptions", "RepoOptions", "date_flag", "layout", "window"]


@dataclass(kw_only=True)
class ReportOptions:
    """A report over the environments (status, diff): its format, where it goes, the chain it reads."""

    format: Literal["table", "json", "markdown", "html"] = option(
        "table", flag="--format", help="Output format."
    )
    out: Path | None = option(flag="--out", metavar="FILE", help="Write the report here instead of stdout.")
    chain: dict[str, Any] = option(
        default_factory=dict,
        config="environments",
        schema={"additionalProperties": ref("environments_env")},
        help="Deployment environments in promotion order (dev -> qa -> preprod -> prod), "
        "each with its promotion rule.",
    )


def layout(ctx: StepContext) -> Layout:
    per_env = {}
    section = ctx.config.section("environments")
    for name, entry in section.items() if isinstance(section, dict) else []:
        if isinstance(entry, dict) and entry.get("overlay"):
            per_env[str(name)] = str(entry["overlay"])
    image = ctx.config.get("gitops.image")
    return Layout(
        template=str(ctx.config.get("gitops.overlay") or ov.DEFAULT_TEMPLATE),
        per_env=per_env,
        service=ctx.service,
        image=str(image) if image else None,
    )


def date_flag(value: str | None, flag: str, *, end: bool = False) -> datetime | None:
    """``2026-11-01`` (midnight UTC; for ``--until`` the day is included) or an ISO time;
    BadInput otherwise."""
    if value is None or value == "":
        return None
    try:
        when = parse_time(value)
    except ValueError:
        raise BadInput(f"{flag} {value!r} is not a date", hint="use YYYY-MM-DD or an ISO 8601 time") from None
    if end and len(value.strip()) == 10:  # a bare date: up to the end of that day
        try:
            when += timedelta(days=1)
        except OverflowError:  # 9999-12-31: the end of time as Python counts it
            when = datetime.max.replace(tzinfo=timezone.utc)
    return when


def window(
    since: str | None, until: str | None, now: datetime | None = None, default_days: int = 90
) -> tuple[datetime, datetime]:
    end = date_flag(until, "--until", end=True) or (now or datetime.now(timezone.utc))
    try:
        start = date_flag(since, "--since") or end - timedelta(days=default_days)
    except OverflowError:
        raise BadInput(
            f"--until {until}: too early to look {default_days} days back from; pass --since"
        ) from None
    if start >= end:
        raise BadInput(f"--since {start.isoformat()} is not before --until {end.isoformat()}")
    return start, end
