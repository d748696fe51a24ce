"""The Adaptive Card (version 1.4) for Teams, inside the Workflows message envelope, under 28 KB."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipekit.cards import text as t
from pipekit.cards.model import Notification, status_icon

CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28 * 1024 - 512  # Teams' 28 KB message limit, with a margin for the transport


@dataclass(frozen=True)
class Budget:
    """Character budgets per field; each level is tighter than the one before."""

    subject: int
    message: int
    line: int
    lines: int
    fact: int


LEVELS = [
    Budget(subject=300, message=3000, line=300, lines=20, fact=500),
    Budget(subject=200, message=1000, line=160, lines=10, fact=300),
    Budget(subject=120, message=300, line=100, lines=5, fact=200),
    Budget(subject=80, message=100, line=80, lines=2, fact=120),
]


def url_for_markdown(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("]", "%5D")


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def card(n: Notification, budget: Budget = LEVELS[0]) -> dict[str, Any]:
    """The Adaptive Card for ``n`` (all outside text escaped and cut to ``budget``)."""
    header: list[dict[str, Any]] = [
        _text(f"{n.icon} " + t.teams(n.title, 200), weight="Bolder", size="Medium"),
    ]
    sub = [n.service, n.stage] + ([n.environment] if n.environment else [])
    header.append(_text(t.teams(" · ".join(sub), 200), isSubtle=True, spacing="None"))
    body: list[dict[str, Any]] = [{"type": "Container", "style": n.style, "bleed": True, "items": header}]
    if n.commit:
        sha = (
            f"[{n.commit.short_sha}]({url_for_markdown(n.commit.url)})"
            if n.commit.url
            else n.commit.short_sha
        )
        line = f"Commit {sha}"
        if n.commit.author:
            line += " by " + t.teams(t.one_line(n.commit.author), 100)
        if n.commit.subject:
            line += ": " + t.teams(t.first_line(n.commit.subject), budget.subject)
        body.append(_text(line))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t.teams(f.label, 60), "value": t.teams(t.one_line(f.value), budget.fact)}
                for f in n.facts
            ],
        }
    )
    if n.message:
        body.append(_text(t.teams(n.message.strip(), budget.message).replace("\n", "\n\n"), separator=True))
    for detail in n.details:
        lines = detail.lines[: budget.lines]
        more = detail.more + len(detail.lines) - len(lines)
        items = [f"- {t.teams(t.one_line(line), budget.line)}" for line in lines]
        if more:
            items.append(f"- … and {more} more (truncated)")
        body.append(_text(t.teams(detail.title, 80), weight="Bolder", separator=True))
        body.append(_text("\n".join(items), spacing="Small"))
    if n.steps:
        body.append(_text("Steps", weight="Bolder", separator=True))
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {
                        "title": t.teams(s.name, 60),
                        "value": t.teams(
                            f"{_status_icon(s.status)} {s.status}"
                            + (f" · {s.duration_s:.1f} s" if s.duration_s is not None else ""),
                            120,
                        ),
                    }
                    for s in n.steps[:40]
                ],
            }
        )
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if n.links:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": link.title, "url": link.url} for link in n.links
        ]
    return content


def _status_icon(status: str) -> str:
    return status_icon(status)


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    """The Workflows message envelope around one Adaptive Card."""
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": content}]}


def message(n: Notification, max_bytes: int = MAX_BYTES) -> tuple[dict[str, Any], bytes]:
    """The envelope and its encoded bytes, cut level by level until it fits ``max_bytes``."""
    for budget in LEVELS:
        payload = envelope(card(n, budget))
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(data) <= max_bytes:
            return payload, data
    # Still too large (hundreds of facts or steps): keep the header, facts and buttons only.
    slim = Notification(
        **{
            **n.__dict__,
            "message": "(message truncated: the card was too large)",
            "details": [],
            "steps": n.steps[:10],
        }
    )
    payload = envelope(card(slim, LEVELS[-1]))
    return payload, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
