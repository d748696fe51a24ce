"""The Jira issues named in the commits a promotion carries: summary, status, allowed or not.

One search per 50 keys (``key in (...)``). Jira answers 400 for the whole query when one key
names no issue (or a project it does not know); the keys its error messages name are then
dropped and the query asked again, and when the messages name none, the keys are asked one by
one, so one stale key in a commit message costs one more request, not the whole answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipekit.clients.jira import Issue as JiraIssue
from pipekit.clients.jira import JiraClient
from pipekit.core.errors import BadInput
from pipekit.releases.model import Issue

CHUNK = 50
_NAMED = re.compile(r"'([A-Z][A-Z0-9_]*-[0-9]+)'")


def lookup(client: JiraClient, keys: Sequence[str], allowed: Sequence[str] = ()) -> dict[str, Issue]:
    wanted = {s.strip().casefold() for s in allowed if s.strip()}
    found: dict[str, JiraIssue] = {}
    for start in range(0, len(keys), CHUNK):
        found.update(_search(client, list(keys[start : start + CHUNK])))
    out: dict[str, Issue] = {}
    for key in keys:
        issue = found.get(key)
        if issue is None:
            out[key] = Issue(key=key, found=False, url=f"{client.site_url}/browse/{key}")
            continue
        out[key] = Issue(
            key=key,
            found=True,
            summary=issue.summary,
            status=issue.status,
            url=issue.url,
            allowed=(issue.status.casefold() in wanted) if wanted else None,
        )
    return out


def _search(client: JiraClient, keys: list[str]) -> dict[str, JiraIssue]:
    todo = list(keys)
    for _ in range(3):
        if not todo:
            return {}
        try:
            return {i.key: i for i in client.search(_jql(todo))}
        except BadInput as exc:
            if "refused the JQL" not in exc.message:
                raise  # credentials, permissions: not about the keys
            named = set(_NAMED.findall(exc.message)) & set(todo)
            if not named:
                break
            todo = [k for k in todo if k not in named]
    out: dict[str, JiraIssue] = {}
    for key in todo:  # one by one: a key Jira refuses is simply not found
        try:
            out.update({i.key: i for i in client.search(_jql([key]))})
        except BadInput as exc:
            if "refused the JQL" not in exc.message:
                raise
    return out


def _jql(keys: Sequence[str]) -> str:
    return f"key in ({', '.join(keys)}) ORDER BY key"
