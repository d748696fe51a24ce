"""The release gate's decision: the version exists by exact name, is not archived, is released or
unreleased as required, and every issue fixed in it is in an allowed status.

A decision that does not pass lists what would unblock it: the version's state, and for each
blocking issue "move ORD-102 to Done or out of 1.4.2".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipekit.clients.jira import JiraClient
from pipekit.jira import jql as jqlmod


@dataclass
class BlockingIssue:
    key: str
    summary: str
    status: str
    assignee: str | None
    url: str
    unblock: str  # what would unblock it


@dataclass
class Decision:
    passed: bool
    project: str
    version: str
    require: str
    state: str  # released | unreleased | archived | missing
    reason: str
    issues: int = 0  # issues fixed in the version that were checked
    blocking: list[BlockingIssue] = field(default_factory=list)
    allowed_statuses: list[str] = field(default_factory=list)
    jql: str | None = None
    similar: list[str] = field(default_factory=list)  # names Jira's loose query found, for a missing version


def unblock_text(key: str, allowed: Sequence[str], version: str) -> str:
    targets = allowed[0] if len(allowed) == 1 else ", ".join(allowed)
    return f"move {key} to {targets} or out of {version}"


def decide(
    client: JiraClient,
    project: str,
    version: str,
    *,
    require: str = "unreleased",
    allowed_statuses: Sequence[str] = (),
    extra_jql: str | None = None,
) -> Decision:
    allowed = [s.strip() for s in allowed_statuses if s.strip()]

    def made(passed: bool, state: str, reason: str, **more: Any) -> Decision:
        return Decision(passed, project, version, require, state, reason, allowed_statuses=allowed, **more)

    candidates = list(client.versions(project, query=version))
    found = next((v for v in candidates if v.name == version), None)
    if found is None:
        similar = [v.name for v in candidates][:5]
        near = (
            f" (Jira's loose match found {', '.join(similar)}; names are compared exactly)" if similar else ""
        )
        return made(
            False,
            "missing",
            similar=similar,
            reason=f"version {version!r} does not exist in project {project}{near}: "
            "create it in Jira or pass the right --version",
        )
    state = "archived" if found.archived else "released" if found.released else "unreleased"
    if found.archived:
        return made(
            False,
            state,
            reason=f"version {version} of {project} is archived: unarchive it or release another version",
        )
    if require == "released" and not found.released:
        return made(
            False,
            state,
            reason=f"version {version} of {project} is not released yet: "
            "release it in Jira (or run with --require unreleased)",
        )
    if require == "unreleased" and found.released:
        return made(
            False,
            state,
            reason=f"version {version} of {project} is already released: "
            "bump the version (or run with --require released / exists)",
        )
    if not allowed:
        return made(True, state, reason=f"version {version} of {project} is {state}")
    query = jqlmod.version_issues(project, version, extra_jql)
    wanted = {s.casefold() for s in allowed}
    checked = 0
    blocking: list[BlockingIssue] = []
    for issue in client.search(query):
        checked += 1
        if issue.status.casefold() not in wanted:
            blocking.append(
                BlockingIssue(
                    issue.key,
                    issue.summary,
                    issue.status,
                    issue.assignee,
                    issue.url,
                    unblock_text(issue.key, allowed, version),
                )
            )
    if blocking:
        return made(
            False,
            state,
            issues=checked,
            blocking=blocking,
            jql=query,
            reason=f"{len(blocking)} of {checked} issues in {project} {version} are not in "
            f"{' / '.join(allowed)}",
        )
    return made(
        True,
        state,
        issues=checked,
        jql=query,
        reason=f"version {version} of {project} is {state}; all {checked} issues are in "
        f"{' / '.join(allowed)}",
    )
