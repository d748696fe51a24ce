"""Commit ids as pipekit shows them: the first 12 characters (messages, cards, S3 folder names)."""

from __future__ import annotations

SHORT = 12


def short_revision(revision: str | None) -> str:
    """``revision``'s first 12 characters (empty for none)."""
    return (revision or "")[:SHORT]
