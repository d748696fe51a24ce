"""JQL for the gate's search: every value quoted, quotes and backslashes escaped."""

from __future__ import annotations


def quote(value: str) -> str:
    """A JQL string literal: ``1.4.2 "beta"`` -> ``"1.4.2 \\"beta\\""``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def version_issues(project: str, version: str, extra: str | None = None) -> str:
    """The issues of ``project`` whose fixVersion is ``version``, narrowed by ``extra`` JQL."""
    jql = f"project = {quote(project)} AND fixVersion = {quote(version)}"
    if extra and extra.strip():
        jql += f" AND ({extra.strip()})"
    return jql + " ORDER BY key ASC"
