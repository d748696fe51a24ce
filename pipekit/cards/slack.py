"""Slack blocks with a text fallback, within Slack's limits (50 blocks, 3,000 characters a section)."""

from __future__ import annotations

import json
from typing import Any

from pipekit.cards import text as t
from pipekit.cards.model import Notification, status_icon

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_LINES = 20


def url_for_mrkdwn(url: str) -> str:
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def _section_mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": t.truncate(text, MAX_SECTION)}}


def _status_icon(status: str) -> str:
    return status_icon(status)


def fallback(n: Notification) -> str:
    """The ``text`` Slack shows in notifications and where blocks cannot be shown (parsed as mrkdwn)."""
    where = ", ".join(x for x in (n.environment, n.commit.short_sha if n.commit else None) if x)
    return t.slack_mrkdwn(t.one_line(f"{n.icon} {n.title}" + (f" ({where})" if where else "")), 300)


def payload(n: Notification) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": t.slack_plain(f"{n.icon} {t.one_line(n.title)}", MAX_HEADER),
                "emoji": True,
            },
        },
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{f.label}*\n" + t.slack_mrkdwn(t.one_line(f.value), MAX_FIELD - 40)}
        for f in n.facts
    ]
    for i in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[i : i + MAX_FIELDS]})
    if n.commit:
        sha = f"<{url_for_mrkdwn(n.commit.url)}|{n.commit.short_sha}>" if n.commit.url else n.commit.short_sha
        elements: list[dict[str, Any]] = [{"type": "mrkdwn", "text": f"Commit {sha}"}]
        who = " ".join(
            x
            for x in (
                f"by {t.one_line(n.commit.author)}" if n.commit.author else "",
                t.first_line(n.commit.subject) if n.commit.subject else "",
            )
            if x
        )
        if who:
            elements.append({"type": "plain_text", "text": t.slack_plain(who, 300), "emoji": False})
        blocks.append({"type": "context", "elements": elements})
    if n.message:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "plain_text",
                    "text": t.slack_plain(n.message.strip(), MAX_SECTION),
                    "emoji": True,
                },
            }
        )
    for detail in n.details:
        lines = detail.lines[:MAX_LINES]
        more = detail.more + len(detail.lines) - len(lines)
        body = "\n".join("• " + t.slack_mrkdwn(t.one_line(line), 200) for line in lines)
        if more:
            body += f"\n… and {more} more (truncated)"
        blocks.append(_section_mrkdwn(f"*{detail.title}*\n{body}"))
    if n.steps:
        rows = [
            f"{_status_icon(s.status)} *{t.slack_mrkdwn(s.name, 60)}* {s.status}"
            + (f" · {s.duration_s:.1f} s" if s.duration_s is not None else "")
            for s in n.steps[:40]
        ]
        blocks.append(_section_mrkdwn("*Steps*\n" + "\n".join(rows)))
    if n.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": link.title[:75]},
                        "url": link.url[:3000],
                    }
                    for link in n.links
                ],
            }
        )
    if len(blocks) > MAX_BLOCKS:  # cannot happen with today's layout; keep the contract anyway
        blocks = blocks[: MAX_BLOCKS - 1] + [_section_mrkdwn("… (truncated)")]
    return {"text": fallback(n), "blocks": blocks}


def message(n: Notification) -> tuple[dict[str, Any], bytes]:
    data = payload(n)
    return data, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
