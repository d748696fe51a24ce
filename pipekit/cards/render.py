"""A readable terminal rendering of what was sent: an Adaptive Card envelope or a Slack payload."""

from __future__ import annotations

import re
from typing import Any

_UNESCAPE = re.compile(r"\\([\\*_\[\]<>\-+.)])")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_SLACK_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


def _plain_teams(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    return _UNESCAPE.sub(r"\1", text).replace("\u2060", "")


def _plain_slack(text: str) -> str:
    text = _SLACK_LINK.sub(r"\2", text).replace("\u200b", "").replace("\u2060", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _card_lines(items: list[Any], indent: str = "  ") -> list[str]:
    out: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "TextBlock":
            for line in _plain_teams(str(item.get("text", ""))).replace("\n\n", "\n").splitlines():
                out.append(indent + line)
        elif kind == "FactSet":
            facts = [f for f in item.get("facts", []) if isinstance(f, dict)]
            width = max((len(_plain_teams(str(f.get("title", "")))) for f in facts), default=0)
            for f in facts:
                out.append(
                    f"{indent}{_plain_teams(str(f.get('title', ''))).ljust(width)}  "
                    f"{_plain_teams(str(f.get('value', '')))}"
                )
        elif kind == "Container":
            out.extend(_card_lines(item.get("items", []), indent))
        elif kind == "ColumnSet":
            for col in item.get("columns", []):
                out.extend(_card_lines(col.get("items", []) if isinstance(col, dict) else [], indent))
    return out


def teams(envelope: dict[str, Any]) -> str:
    lines: list[str] = []
    for att in envelope.get("attachments", []):
        content = att.get("content", {}) if isinstance(att, dict) else {}
        lines.append(f"  [Adaptive Card {content.get('version', '?')}]")
        lines.extend(_card_lines(content.get("body", [])))
        for action in content.get("actions", []):
            lines.append(f"  [{action.get('title')}] {action.get('url')}")
    return "\n".join(lines)


def slack(payload: dict[str, Any]) -> str:
    lines = [f"  [Slack] text: {_plain_slack(str(payload.get('text', '')))}"]
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind in ("header", "section") and isinstance(block.get("text"), dict):
            lines.extend(
                "  " + x.replace("*", "") for x in _plain_slack(block["text"].get("text", "")).splitlines()
            )
        for f in block.get("fields", []) if kind == "section" else []:
            lines.append("  " + _plain_slack(f.get("text", "")).replace("\n", ": ", 1).replace("*", ""))
        if kind == "context":
            lines.append("  " + " ".join(_plain_slack(e.get("text", "")) for e in block.get("elements", [])))
        if kind == "actions":
            lines.extend(f"  [{e['text']['text']}] {e.get('url')}" for e in block.get("elements", []))
    return "\n".join(lines)


def payload(kind: str, data: Any) -> str:
    if not isinstance(data, dict):
        return f"  (not JSON) {str(data)[:200]}"
    return slack(data) if kind == "slack" else teams(data)
