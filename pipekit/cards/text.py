"""Text that came from outside (commit messages, branch and test names) made safe for each format.

Nothing here may let that text add a link, a mention or formatting: URLs are defused
(a word joiner after the scheme, so no client auto-links them), markdown/mrkdwn control
characters are escaped, and long text is cut with a visible marker.

Every function here masks registered secrets *first*: escaping (``_`` -> ``\\_``, a zero-width
space after ``_``) or a cut through the middle of a token would change the text so that the
mask no longer matches it.
"""

from __future__ import annotations

import re

from pipekit.core.masking import mask

TRUNCATED = "… (truncated)"
_WJ = "\u2060"  # word joiner: invisible, stops auto-linking
_URLISH = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}):(?=//)|\b(www)\.")
_TEAMS_SPECIAL = re.compile(r"([\\*_\[\]<>])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+)([.)]?)(\s)", re.MULTILINE)


def one_line(text: str | None) -> str:
    """Collapse whitespace (newlines included) to single spaces."""
    return " ".join((text or "").split())


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def truncate(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """``text`` (masked) cut to at most ``limit`` characters, ending with ``marker`` when cut."""
    text = mask(text)
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(marker))
    return text[:keep].rstrip() + marker


def defuse_links(text: str) -> str:
    """Stop chat clients from turning ``https://x`` or ``www.x`` into a link (``text`` masked first)."""
    return _URLISH.sub(lambda m: f"{m.group(1)}:{_WJ}" if m.group(1) else f"www{_WJ}.", mask(text))


def teams(text: str | None, limit: int = 500) -> str:
    """For an Adaptive Card TextBlock/FactSet (markdown subset): escape, defuse, cut."""
    cut = truncate(str(text or ""), limit)
    escaped = _TEAMS_SPECIAL.sub(r"\\\1", defuse_links(cut))
    return _LIST_START.sub(_escape_list_marker, escaped)


def _escape_list_marker(m: re.Match[str]) -> str:
    indent, marker, dot, space = m.groups()
    if marker.isdigit():  # "1. x" -> "1\. x"; a bare number is no list marker
        return f"{indent}{marker}\\{dot}{space}" if dot else m.group(0)
    return f"{indent}\\{marker}{dot}{space}"


def slack_plain(text: str | None, limit: int = 3000) -> str:
    """For a Slack ``plain_text`` object: no markup is parsed there; defuse links and cut."""
    return defuse_links(truncate(str(text or ""), limit))


def slack_mrkdwn(text: str | None, limit: int = 3000) -> str:
    """For Slack ``mrkdwn``: the three entities Slack requires, formatting characters neutralised.

    Slack has no backslash escape; a zero-width space after ``*``, ``_``, ``~`` and the
    backtick stops them pairing up into bold, italic, strike or code.
    """
    cut = truncate(str(text or ""), limit - limit // 5)  # room for the entities and joiners
    out = cut.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = re.sub(r"([*_~`])", "\\1\u200b", out)
    return defuse_links(out)
