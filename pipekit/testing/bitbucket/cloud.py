"""Bitbucket Cloud's REST 2.0, the part promotion by pull request uses, in its documented shapes.

- ``GET /2.0/repositories/{workspace}/{repo_slug}``: the repository (``mainbranch``).
- ``GET .../pullrequests`` (``state``, repeatable, default OPEN; ``q`` with ``source.branch.name``
  / ``destination.branch.name`` ``=`` or ``~``; ``pagelen`` at most 50, ``page``): a page with
  ``values``, ``pagelen``, ``page``, ``size`` and ``next`` while more follow. Listed pull requests
  carry no ``reviewers``/``participants`` (only the pull request's own URL has them).
- ``POST .../pullrequests``: ``title``, ``description``, ``source.branch.name``,
  ``destination.branch.name`` (default the main branch), ``reviewers`` ``[{uuid}|{account_id}]``,
  ``close_source_branch``; 201. An unknown reviewer is 400 "reviewers: Malformed reviewers list".
- ``GET .../pullrequests/{id}``; ``POST|DELETE .../approve``; ``POST .../decline``;
  ``POST .../comments`` (``content.raw``); ``POST .../merge`` (``merge_strategy`` merge_commit,
  squash or fast_forward, ``message``, ``close_source_branch``): 200 with ``merge_commit.hash``
  of 12 characters, as Cloud answers; 400 for a conflict, a merge check or a fast-forward that
  cannot be made, 409 when a ref moved during the merge.
- ``GET /2.0/users/{uuid|account_id}``.

Errors: ``{"type": "error", "error": {"message": ..., "fields": {...}}}``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from pipekit.testing.bitbucket.repos import (
    STRATEGIES,
    MergeRefused,
    PullRequest,
    Repository,
    Request,
    Site,
    Token,
    User,
    comment,
    decline,
)

NO_ACCESS = (
    "You may not have access to this repository or it no longer exists in this workspace. If you think "
    "this repository exists and you have access, make sure you are authenticated."
)
_Q = re.compile(r'\s*([a-z_.]+)\s*(=|~)\s*"((?:[^"\\]|\\.)*)"\s*', re.IGNORECASE)


def error(message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"message": message}
    if fields:
        inner["fields"] = fields
    return {"type": "error", "error": inner}


def unauthorized() -> dict[str, Any]:
    return error("Access token expired or invalid.")


def route(s: Site, r: Request, token: Token) -> tuple[int, Any]:
    parts = [p for p in r.path.split("/") if p][1:]  # after "2.0"
    if len(parts) == 2 and parts[0] == "users" and r.method == "GET":
        found = next((u for u in s.users.values() if parts[1] in (u.uuid, u.account_id, u.name)), None)
        return (200, account(found)) if found else (404, error(f"{parts[1]} not found"))
    if len(parts) < 3 or parts[0] != "repositories":
        return 404, error("Resource not found")
    repo = s.visible(token, parts[1], parts[2])
    if repo is None:
        return 404, error(NO_ACCESS)
    rest, m = parts[3:], r.method
    if not rest and m == "GET":
        return 200, repository(r, repo)
    if rest == ["pullrequests"]:
        return (
            _list(r, repo)
            if m == "GET"
            else _create(s, r, repo)
            if m == "POST"
            else (405, error("Method not allowed"))
        )
    if len(rest) < 2 or rest[0] != "pullrequests" or not rest[1].isdigit():
        return 404, error("Resource not found")
    pr = repo.pull_requests.get(int(rest[1]))
    if pr is None:
        return 404, error(f"Pull request {rest[1]} not found")
    action = rest[2] if len(rest) > 2 else ""
    if action == "" and m == "GET":
        return 200, pull_request(r, repo, pr, full=True)
    if action == "approve" and m in ("POST", "DELETE"):
        s.approve(repo, pr.id, r.user.name, m == "POST")
        return (200, participant(pr, r.user)) if m == "POST" else (204, None)
    if action == "decline" and m == "POST":
        with repo.lock:
            if pr.state != "OPEN":
                return 400, error(f"You can't decline a pull request that is {pr.state.lower()}.")
            decline(pr, r.user)
        return 200, pull_request(r, repo, pr, full=True)
    if action == "comments" and m == "POST":
        raw = ((r.body or {}).get("content") or {}).get("raw") if isinstance(r.body, dict) else None
        if not raw:
            return 400, error("content: This field is required.", {"content": ["This field is required."]})
        cid = comment(repo, pr, r.user, str(raw))
        return 201, {
            "type": "pullrequest_comment",
            "id": cid,
            "content": {"raw": raw, "markup": "markdown"},
            "user": account(r.user),
            "created_on": _iso(pr.updated),
        }
    if action == "merge" and m == "POST":
        return _merge(r, repo, pr)
    return 404, error("Resource not found")


def _list(r: Request, repo: Repository) -> tuple[int, Any]:
    states = {v.upper() for v in r.query.get("state", [])} or {"OPEN"}
    found = [pr for pr in sorted(repo.pull_requests.values(), key=lambda p: -p.id) if pr.state in states]
    q = (r.query.get("q") or [""])[-1]
    for clause in filter(None, re.split(r"\s+AND\s+", q, flags=re.IGNORECASE) if q else []):
        match = _Q.fullmatch(clause)
        if not match:
            return 400, error(f"Invalid query: {clause}")
        key, op, value = match.group(1), match.group(2), match.group(3).replace('\\"', '"')
        attr = {
            "source.branch.name": "source",
            "destination.branch.name": "target",
            "state": "state",
            "title": "title",
        }.get(key)
        if attr is None:
            return 400, error(f"Invalid field name: {key}")
        found = [p for p in found if (value in getattr(p, attr) if op == "~" else getattr(p, attr) == value)]
    return 200, page(r, [pull_request(r, repo, pr, full=False) for pr in found])


def page(r: Request, values: list[Any], default: int = 10, most: int = 50) -> dict[str, Any]:
    size = max(1, min(int((r.query.get("pagelen") or [str(default)])[-1]), most))
    number = max(1, int((r.query.get("page") or ["1"])[-1]))
    chunk = values[(number - 1) * size : number * size]
    out: dict[str, Any] = {"pagelen": size, "size": len(values), "page": number, "values": chunk}
    if number * size < len(values):
        query = {k: v[-1] for k, v in r.query.items()}
        query["page"] = str(number + 1)
        out["next"] = f"{r.base_url}{r.path}?{urlencode(query)}"
    return out


def _create(s: Site, r: Request, repo: Repository) -> tuple[int, Any]:
    body = r.body if isinstance(r.body, dict) else {}
    title = str(body.get("title") or "").strip()
    if not title:
        return 400, error("title: This field is required.", {"title": ["This field is required."]})
    source = (((body.get("source") or {}).get("branch") or {}).get("name")) or ""
    target = (((body.get("destination") or {}).get("branch") or {}).get("name")) or repo.main_branch
    for side, name in (("source", source), ("destination", target)):
        if not name or repo.head(name) is None:
            return 400, error(f"{side}: Branch not found: {name}", {side: [f"Branch not found: {name}"]})
    reviewers: list[User] = []
    for item in body.get("reviewers") or []:
        key = (item or {}).get("uuid") or (item or {}).get("account_id") if isinstance(item, dict) else None
        found = next((u for u in s.users.values() if key and key in (u.uuid, u.account_id)), None)
        if found is None:
            return 400, error(
                "reviewers: Malformed reviewers list", {"reviewers": ["Malformed reviewers list"]}
            )
        if found.name == r.user.name:
            message = f"{found.display_name} is the author and cannot be included as a reviewer."
            return 400, error(f"reviewers: {message}", {"reviewers": [message]})
        reviewers.append(found)
    pr = s.new_pull_request(
        repo,
        title=title,
        description=str(body.get("description") or ""),
        source=source,
        target=target,
        author=r.user,
        reviewers=reviewers,
        close_source_branch=bool(body.get("close_source_branch", False)),
    )
    return 201, pull_request(r, repo, pr, full=True)


def _merge(r: Request, repo: Repository, pr: PullRequest) -> tuple[int, Any]:
    body = r.body if isinstance(r.body, dict) else {}
    strategy = str(body.get("merge_strategy") or "merge_commit")
    if strategy not in STRATEGIES:
        return 400, error(
            f"merge_strategy: {strategy} is not a valid merge strategy",
            {"merge_strategy": [f"{strategy} is not a valid merge strategy"]},
        )
    if "close_source_branch" in body:
        pr.close_source_branch = bool(body["close_source_branch"])
    message = str(body.get("message") or f"Merged in {pr.source} (pull request #{pr.id})\n\n{pr.title}")
    try:
        repo.merge(pr, strategy, message, r.user)
    except MergeRefused as refused:
        if refused.kind == "moved":
            return 409, error(refused.message)
        if refused.kind == "vetoed":
            return 400, error(f"You can't merge until you resolve all merge checks: {refused.message}")
        return 400, error(refused.message)
    return 200, pull_request(r, repo, pr, full=True)


def account(u: User | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {
        "type": "user",
        "display_name": u.display_name,
        "uuid": u.uuid,
        "account_id": u.account_id,
        "nickname": u.name,
    }


def participant(pr: PullRequest, u: User) -> dict[str, Any]:
    approved = bool(pr.approvals.get(u.name))
    return {
        "type": "participant",
        "user": account(u),
        "role": "REVIEWER" if any(x.name == u.name for x in pr.reviewers) else "PARTICIPANT",
        "approved": approved,
        "state": "approved" if approved else None,
        "participated_on": _iso(pr.updated) if u.name in pr.approvals else None,
    }


def repository(r: Request, repo: Repository) -> dict[str, Any]:
    return {
        "type": "repository",
        "full_name": f"{repo.owner}/{repo.slug}",
        "name": repo.slug,
        "slug": repo.slug,
        "is_private": True,
        "mainbranch": {"type": "branch", "name": repo.main_branch},
        "links": {"html": {"href": f"{r.base_url}/{quote(repo.owner)}/{quote(repo.slug)}"}},
    }


def pull_request(r: Request, repo: Repository, pr: PullRequest, *, full: bool) -> dict[str, Any]:
    api = f"{r.base_url}/2.0/repositories/{quote(repo.owner)}/{quote(repo.slug)}/pullrequests/{pr.id}"
    web = f"{r.base_url}/{quote(repo.owner)}/{quote(repo.slug)}/pull-requests/{pr.id}"

    def endpoint(branch: str) -> dict[str, Any]:
        head = repo.head(branch)
        return {
            "branch": {"name": branch},
            "commit": {"hash": head[:12]} if head else None,
            "repository": {"type": "repository", "full_name": f"{repo.owner}/{repo.slug}", "name": repo.slug},
        }

    out: dict[str, Any] = {
        "type": "pullrequest",
        "id": pr.id,
        "title": pr.title,
        "description": pr.description,
        "summary": {"raw": pr.description, "markup": "markdown"},
        "state": pr.state,
        "author": account(pr.author),
        "source": endpoint(pr.source),
        "destination": endpoint(pr.target),
        "merge_commit": {"hash": pr.merge_commit[:12]} if pr.merge_commit else None,
        "close_source_branch": pr.close_source_branch,
        "closed_by": account(pr.closed_by) if pr.state != "OPEN" else None,
        "reason": pr.reason,
        "created_on": _iso(pr.created),
        "updated_on": _iso(pr.updated),
        "comment_count": len(pr.comments),
        "task_count": 0,
        "links": {
            "self": {"href": api},
            "html": {"href": web},
            "merge": {"href": f"{api}/merge"},
            "decline": {"href": f"{api}/decline"},
            "approve": {"href": f"{api}/approve"},
        },
    }
    if full:
        out["reviewers"] = [account(u) for u in pr.reviewers]
        people = list(pr.reviewers) + [
            u for u in _approvers(pr) if all(u.name != x.name for x in pr.reviewers)
        ]
        out["participants"] = [participant(pr, u) for u in people]
    return out


def _approvers(pr: PullRequest) -> list[User]:
    seen: dict[str, User] = {}
    for activity in pr.activities:
        if activity.action in ("APPROVED", "UNAPPROVED", "COMMENTED"):
            seen.setdefault(activity.user.name, activity.user)
    return list(seen.values())


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()
