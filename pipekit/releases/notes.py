"""Jira issue keys in commit messages, and the bounded release notes a promotion commit carries.

A key is ``PROJECT-123`` (upper-case project, a number not starting with 0) standing on its own
(``feature/ORD-12-refund`` names ORD-12). With Jira projects named (``--jira-project``,
``jira.project``) only their keys count; without, every key-shaped word except a few that are
standards, not projects (UTF-8, ISO-8601, SHA-256, CVE-2024-...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipekit.releases.model import ServiceChange

# Jira's project key rule: an upper-case letter, then at least one upper-case letter, digit or underscore.
KEY = re.compile(r"(?<![A-Za-z0-9_-])([A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,6})(?![A-Za-z0-9_]|-[0-9])")
NOT_PROJECTS = frozenset(
    {
        "UTF",
        "ISO",
        "SHA",
        "CVE",
        "RFC",
        "AES",
        "HTTP",
        "TLS",
        "SSL",
        "PEP",
        "JSR",
        "GHSA",
        "CWE",
        "MD",
        "RSA",
        "ECDSA",
        "UTC",
        "GMT",
        "IPV",
        "MP",
        "WCAG",
        "ES",
    }
)
NOTES_START = "Release notes:"
MAX_LINES = 20  # commit lines per promotion commit, every service together
MAX_SUBJECT = 100


def jira_keys(text: str, projects: Sequence[str] = ()) -> list[str]:
    """The keys in ``text``, first seen first, each once."""
    wanted = {p.upper() for p in projects}
    found: dict[str, None] = {}
    for key in KEY.findall(text):
        project = key.rsplit("-", 1)[0]
        if (project in wanted) if wanted else (project not in NOT_PROJECTS):
            found[key] = None
    return list(found)


def clip(text: str, limit: int = MAX_SUBJECT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def commit_body(changes: Sequence[ServiceChange], max_lines: int = MAX_LINES) -> list[str]:
    """The release notes in a promotion's GitOps commit, above the trailers: per service the count,
    the Jira keys, then commit subjects, ``max_lines`` in all ("and N more" says what was left out).
    No line starts with ``Pipekit-``: the trailers stay the last paragraph's alone."""
    lines: list[str] = []
    shown = 0
    for change in changes:
        if change.total == 0 and not change.note:
            continue
        head = f"{change.service}: {change.total} commit{'s' if change.total != 1 else ''}"
        keys = change.jira
        if keys:
            head += " - " + " ".join(keys[:12]) + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")
        if change.note and not change.total:
            head = f"{change.service}: {clip(change.note, 140)}"
        lines.append(head)
        if change.rolled_back:  # a hotfix the target ran: the promotion takes it away
            lines.append(f"  ! {clip(change.note, 140)}")
        listed = [c for c in change.commits if not c.merge]
        here = 0
        for commit in listed:
            if shown >= max_lines:
                break
            lines.append(f"  - {commit.sha[:8]} {clip(commit.subject)} ({clip(commit.author, 40)})")
            shown += 1
            here += 1
        more = len(listed) - here + max(0, change.total - len(change.commits))
        if more > 0:
            lines.append(f"  ... and {more} more")
    return [NOTES_START, *lines] if lines else []
