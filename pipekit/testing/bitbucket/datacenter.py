"""Bitbucket Data Center's REST 1.0, the part promotion by pull request uses, in its documented shapes.

Under ``/rest/api/{latest|1.0}/projects/{projectKey}/repos/{repositorySlug}``:
- ``GET``: the repository.
- ``GET /pull-requests`` (``state`` OPEN|DECLINED|MERGED|ALL, ``at`` a fully-qualified ref,
  ``direction`` INCOMING|OUTGOING, ``start``, ``limit``): a page with ``values``, ``size``,
  ``limit``, ``start``, ``isLastPage`` and ``nextPageStart`` while more follow.
- ``POST /pull-requests``: ``title``, ``description``, ``fromRef.id``/``toRef.id``
  (``refs/heads/...``), ``reviewers`` ``[{user: {name}}]``; 201. An unknown reviewer is 409
  ``InvalidPullRequestReviewersException`` with ``reviewerErrors``; a second open pull request
  between the same branches 409 ``DuplicatePullRequestException``.
- ``GET /pull-requests/{id}``, ``/participants``, ``/activities`` (newest first), ``/merge`` (can it?);
  ``PUT /participants/{userSlug}`` (``status`` APPROVED); ``POST /comments`` (``text``);
  ``POST /decline?version=`` and ``POST /merge?version=`` (body ``strategyId`` no-ff, squash,
  ff-only or ff, ``message``): a missing or stale ``version`` is 409
  ``PullRequestOutOfDateException``; a conflict or a merge check 409
  ``PullRequestMergeVetoedException`` with ``vetoes``. A merged pull request carries
  ``properties.mergeCommit`` (``id``, ``displayId``).
- ``GET /rest/api/latest/users/{userSlug}``.

Errors: ``{"errors": [{"context": ..., "message": ..., "exceptionName": ...}]}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pipekit.testing.bitbucket.repos import (
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

STRATEGIES = {"no-ff": "merge_commit", "squash": "squash", "ff-only": "fast_forward", "ff": "ff"}
_EX = "com.atlassian.bitbucket."


def error(
    message: str, exception: str | None = None, context: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"errors": [{"context": context, "message": message, "exceptionName": exception, **extra}]}


def unauthorized() -> dict[str, Any]:
    return error(
        "Authentication failed. Please check your credentials and try again.",
        _EX + "auth.IncorrectPasswordAuthenticationException",
    )


def route(s: Site, r: Request, token: Token) -> tuple[int, Any]:
    parts = [p for p in r.path.split("/") if p]
    if len(parts) < 3 or parts[:2] != ["rest", "api"] or parts[2] not in ("latest", "1.0"):
        return 404, error(f"No resource at {r.path}")
    parts = parts[3:]
    if len(parts) == 2 and parts[0] == "users" and r.method == "GET":
        found = s.users.get(parts[1])
        return (
            (200, user(found))
            if found
            else (404, error(f"User {parts[1]} does not exist.", _EX + "user.NoSuchUserException"))
        )
    if len(parts) < 4 or parts[0] != "projects" or parts[2] != "repos":
        return 404, error(f"No resource at {r.path}")
    key, slug = parts[1], parts[3]
    if (key, slug) not in s.repositories:
        return 404, error(
            f"Repository {key}/{slug} does not exist.", _EX + "repository.NoSuchRepositoryException"
        )
    repo = s.visible(token, key, slug)
    if repo is None:
        return 403, error("You are not permitted to access this resource", _EX + "AuthorisationException")
    rest, m = parts[4:], r.method
    if not rest and m == "GET":
        return 200, repository(r, repo)
    if rest == ["pull-requests"]:
        if m == "GET":
            return _list(s, r, repo)
        return _create(s, r, repo) if m == "POST" else (405, error("Method not allowed"))
    if len(rest) < 2 or rest[0] != "pull-requests" or not rest[1].isdigit():
        return 404, error(f"No resource at {r.path}")
    pr = repo.pull_requests.get(int(rest[1]))
    if pr is None:
        return 404, error(
            f"Pull request {rest[1]} does not exist in {key}/{slug}.", _EX + "pull.NoSuchPullRequestException"
        )
    action, m = "/".join(rest[2:]), r.method
    if action == "" and m == "GET":
        return 200, pull_request(r, repo, pr)
    if action == "participants" and m == "GET":
        everyone = [(pr.author, "AUTHOR"), *people(pr)]
        return 200, page(s, r, [participant(pr, u, role) for u, role in everyone])
    if action == "activities" and m == "GET":
        return 200, page(
            s,
            r,
            [
                {
                    "id": i,
                    "createdDate": int(a.at * 1000),
                    "user": user(a.user),
                    "action": a.action,
                    **({"comment": {"text": a.text}} if a.action == "COMMENTED" else {}),
                }
                for i, a in reversed(list(enumerate(pr.activities, 1)))
            ],
        )
    if action.startswith("participants/") and m == "PUT":
        return _review(s, r, repo, pr, action.split("/", 1)[1])
    if action == "approve" and m in ("POST", "DELETE"):
        s.approve(repo, pr.id, r.user.name, m == "POST")
        return 200, participant(pr, r.user, "PARTICIPANT")
    if action == "comments" and m == "POST":
        text = (r.body or {}).get("text") if isinstance(r.body, dict) else None
        if not text:
            return 400, error("Please enter a non-empty value", context="text")
        cid = comment(repo, pr, r.user, str(text))
        return 201, {
            "id": cid,
            "version": 0,
            "text": text,
            "author": user(r.user),
            "createdDate": int(pr.updated * 1000),
        }
    if action == "merge" and m == "GET":
        vetoes = repo.vetoes(pr)
        conflicted = repo.conflicted(pr)
        return 200, {
            "canMerge": not vetoes and not conflicted and pr.state == "OPEN",
            "conflicted": conflicted,
            "outcome": "CONFLICTED" if conflicted else "CLEAN",
            "vetoes": [{"summaryMessage": a, "detailedMessage": b} for a, b in vetoes],
        }
    if action in ("merge", "decline") and m == "POST":
        with s.lock:
            if s.races:  # someone edits the pull request between the client's read and its write
                s.races -= 1
                pr.touch()
        stale = _stale(r, pr)
        if stale is not None:
            return stale
        return _merge(r, repo, pr) if action == "merge" else _decline(r, repo, pr)
    return 404, error(f"No resource at {r.path}")


def _stale(r: Request, pr: PullRequest) -> tuple[int, Any] | None:
    given = _first(r.query.get("version"))
    if given is None and isinstance(r.body, dict) and r.body.get("version") is not None:
        given = str(r.body["version"])
    expected = int(given) if given is not None and str(given).lstrip("-").isdigit() else -1
    if expected != pr.version:
        return 409, error(
            "You are attempting to modify a pull request based on out-of-date information.",
            _EX + "pull.PullRequestOutOfDateException",
            currentVersion=pr.version,
            expectedVersion=expected,
        )
    return None


def _first(values: list[str] | None) -> str | None:
    return values[-1] if values else None


def _list(s: Site, r: Request, repo: Repository) -> tuple[int, Any]:
    state = ((r.query.get("state") or ["OPEN"])[-1]).upper()
    at = (r.query.get("at") or [""])[-1]
    outgoing = ((r.query.get("direction") or ["INCOMING"])[-1]).upper() == "OUTGOING"
    found = [pr for pr in repo.pull_requests.values() if state == "ALL" or pr.state == state]
    if at:
        found = [pr for pr in found if f"refs/heads/{pr.source if outgoing else pr.target}" == at]
    newest = ((r.query.get("order") or ["NEWEST"])[-1]).upper() != "OLDEST"
    found.sort(key=lambda p: p.id, reverse=newest)
    return 200, page(s, r, [pull_request(r, repo, pr) for pr in found])


def page(s: Site, r: Request, values: list[Any]) -> dict[str, Any]:
    limit = s.page_size or max(1, min(int((r.query.get("limit") or ["25"])[-1]), 1000))
    start = max(0, int((r.query.get("start") or ["0"])[-1]))
    chunk = values[start : start + limit]
    last = start + limit >= len(values)
    out: dict[str, Any] = {
        "size": len(chunk),
        "limit": limit,
        "start": start,
        "isLastPage": last,
        "values": chunk,
    }
    if not last:
        out["nextPageStart"] = start + limit
    return out


def _create(s: Site, r: Request, repo: Repository) -> tuple[int, Any]:
    body = r.body if isinstance(r.body, dict) else {}
    title = str(body.get("title") or "").strip()
    if not title:
        return 400, error("Please enter a non-empty value", context="title")
    refs = {}
    for side in ("fromRef", "toRef"):
        ref = str((body.get(side) or {}).get("id") or "")
        name = ref.removeprefix("refs/heads/")
        if not ref or repo.head(name) is None:
            return 404, error(
                f'Repository "{repo.slug}" of project with key "{repo.owner}" has no branch "{ref}"',
                _EX + "repository.NoSuchBranchException",
            )
        refs[side] = name
    problems, reviewers = [], []
    for item in body.get("reviewers") or []:
        name = str(((item or {}).get("user") or {}).get("name") or "") if isinstance(item, dict) else ""
        found = s.users.get(name)
        if found is None:
            problems.append({"context": name, "message": f"{name} is not a user.", "exceptionName": None})
        elif found.name == r.user.name:
            problems.append(
                {
                    "context": name,
                    "message": f"{found.display_name} is the author of the pull request "
                    "and cannot be added as a reviewer.",
                    "exceptionName": None,
                }
            )
        else:
            reviewers.append(found)
    if problems:
        return 409, error(
            "Errors encountered while adding some reviewers to this pull request.",
            _EX + "pull.InvalidPullRequestReviewersException",
            context="reviewers",
            reviewerErrors=problems,
            validReviewers=[user(u) for u in reviewers],
        )
    for pr in repo.pull_requests.values():
        if pr.state == "OPEN" and (pr.source, pr.target) == (refs["fromRef"], refs["toRef"]):
            return 409, error(
                "Only one pull request may be open for a given source and target branch",
                _EX + "pull.DuplicatePullRequestException",
                existingPullRequest=pull_request(r, repo, pr),
            )
    pr = s.new_pull_request(
        repo,
        title=title,
        description=str(body.get("description") or ""),
        source=refs["fromRef"],
        target=refs["toRef"],
        author=r.user,
        reviewers=reviewers,
        close_source_branch=False,
    )
    return 201, pull_request(r, repo, pr)


def _review(s: Site, r: Request, repo: Repository, pr: PullRequest, slug: str) -> tuple[int, Any]:
    if slug != r.user.name:
        return 401, error(
            "You are not permitted to change the review status of another user.",
            _EX + "AuthorisationException",
        )
    status = str((r.body or {}).get("status") or "") if isinstance(r.body, dict) else ""
    if status not in ("APPROVED", "UNAPPROVED", "NEEDS_WORK"):
        return 400, error(f"{status!r} is not a valid status", context="status")
    s.approve(repo, pr.id, slug, status == "APPROVED")
    return 200, participant(
        pr, r.user, "REVIEWER" if any(u.name == slug for u in pr.reviewers) else "PARTICIPANT"
    )


def _merge(r: Request, repo: Repository, pr: PullRequest) -> tuple[int, Any]:
    body = r.body if isinstance(r.body, dict) else {}
    strategy_id = str(body.get("strategyId") or "no-ff")
    if strategy_id not in STRATEGIES:
        return 400, error(f"{strategy_id} is not a valid merge strategy", context="strategyId")
    strategy = STRATEGIES[strategy_id]
    if strategy == "ff":  # fast-forward when it can, a merge commit when it cannot
        target, source = repo.head(pr.target), repo.head(pr.source)
        ancestor = (
            target
            and source
            and repo.git.run("merge-base", "--is-ancestor", target, source, check=False).returncode == 0
        )
        strategy = "fast_forward" if ancestor else "merge_commit"
    message = str(body.get("message") or f"Pull request #{pr.id}: {pr.title}")
    try:
        repo.merge(pr, strategy, message, r.user)
    except MergeRefused as refused:
        if refused.kind == "not-open":
            return 409, error(
                f"The pull request is {pr.state.lower()} and cannot be merged.",
                _EX + "pull.IllegalPullRequestStateException",
            )
        return 409, error(
            "Merging the pull request has been vetoed." if refused.vetoes else refused.message,
            _EX + "pull.PullRequestMergeVetoedException",
            conflicted=refused.kind == "conflict",
            vetoes=[{"summaryMessage": a, "detailedMessage": b} for a, b in refused.vetoes]
            or [{"summaryMessage": refused.message, "detailedMessage": refused.message}],
        )
    return 200, pull_request(r, repo, pr)


def _decline(r: Request, repo: Repository, pr: PullRequest) -> tuple[int, Any]:
    if pr.state != "OPEN":
        return 409, error(
            f"The pull request is {pr.state.lower()} and cannot be declined.",
            _EX + "pull.IllegalPullRequestStateException",
        )
    text = (r.body or {}).get("comment") if isinstance(r.body, dict) else None
    with repo.lock:
        if text:
            comment(repo, pr, r.user, str(text))
        decline(pr, r.user)
    return 200, pull_request(r, repo, pr)


def people(pr: PullRequest) -> list[tuple[User, str]]:
    out = [(u, "REVIEWER") for u in pr.reviewers]
    names = {u.name for u in pr.reviewers} | {pr.author.name}
    for activity in pr.activities:
        if activity.user.name not in names and activity.action in ("APPROVED", "UNAPPROVED", "COMMENTED"):
            names.add(activity.user.name)
            out.append((activity.user, "PARTICIPANT"))
    return out


def user(u: User) -> dict[str, Any]:
    return {
        "name": u.name,
        "emailAddress": f"{u.name}@example.com",
        "active": True,
        "displayName": u.display_name,
        "id": abs(hash(u.name)) % 100000,
        "slug": u.name,
        "type": "NORMAL",
    }


def participant(pr: PullRequest, u: User, role: str) -> dict[str, Any]:
    approved = bool(pr.approvals.get(u.name))
    return {
        "user": user(u),
        "role": role,
        "approved": approved,
        "status": "APPROVED" if approved else "UNAPPROVED",
    }


def repository(r: Request, repo: Repository) -> dict[str, Any]:
    web = f"{r.base_url}/projects/{quote(repo.owner)}/repos/{quote(repo.slug)}"
    return {
        "slug": repo.slug,
        "name": repo.slug,
        "project": {"key": repo.owner},
        "state": "AVAILABLE",
        "links": {"self": [{"href": f"{web}/browse"}], "clone": [{"href": str(repo.path), "name": "file"}]},
    }


def pull_request(r: Request, repo: Repository, pr: PullRequest) -> dict[str, Any]:
    web = f"{r.base_url}/projects/{quote(repo.owner)}/repos/{quote(repo.slug)}/pull-requests/{pr.id}"

    def ref(branch: str) -> dict[str, Any]:
        return {
            "id": f"refs/heads/{branch}",
            "displayId": branch,
            "latestCommit": repo.head(branch) or "",
            "type": "BRANCH",
            "repository": {"slug": repo.slug, "name": repo.slug, "project": {"key": repo.owner}},
        }

    out: dict[str, Any] = {
        "id": pr.id,
        "version": pr.version,
        "title": pr.title,
        "description": pr.description,
        "state": pr.state,
        "open": pr.state == "OPEN",
        "closed": pr.state != "OPEN",
        "locked": False,
        "draft": False,
        "createdDate": int(pr.created * 1000),
        "updatedDate": int(pr.updated * 1000),
        "fromRef": ref(pr.source),
        "toRef": ref(pr.target),
        "author": participant(pr, pr.author, "AUTHOR"),
        "reviewers": [participant(pr, u, "REVIEWER") for u in pr.reviewers],
        "participants": [participant(pr, u, role) for u, role in people(pr) if role == "PARTICIPANT"],
        "links": {"self": [{"href": web}]},
    }
    if pr.state != "OPEN":
        out["closedDate"] = int(pr.updated * 1000)
    if pr.merge_commit:
        out["properties"] = {"mergeCommit": {"id": pr.merge_commit, "displayId": pr.merge_commit[:11]}}
    return out
