"""Pull requests on Bitbucket Data Center, REST 1.0
(``/rest/api/latest/projects/{projectKey}/repos/{repositorySlug}/pull-requests``).

Refs are ``refs/heads/...``; reviewers are ``[{user: {name}}]``; pages end with ``isLastPage``
and go on from ``nextPageStart``. Declining and merging send the pull request's ``version``
(optimistic locking): the pull request is read just before, and a 409 for a stale version is
answered by reading it again and trying once more. Approval is the participants' ``APPROVED``
status; who declined comes from the pull request's activities; a merged pull request names its
merge commit in ``properties.mergeCommit``. Errors: ``{"errors": [{"message": ...}]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from pipekit.clients.pull_requests import Api, MergeRefused, PullRequest, UnknownReviewers

STRATEGY = {"merge": "no-ff", "squash": "squash", "fast-forward": "ff-only"}
MAX_PAGES = 50
_STALE = "PullRequestOutOfDateException"


class _Stale(Exception):
    """A 409 for a stale ``version``: read the pull request again."""


class BitbucketDataCenter(Api):
    flavour = "datacenter"

    def __init__(self, server_url: str, project: str, repo_slug: str, **kwargs: Any) -> None:
        super().__init__(server_url, f"{project}/{repo_slug}", **kwargs)
        self.root = (
            f"{self.base_url}/rest/api/latest/projects/{quote(project, safe='')}/repos/"
            f"{quote(repo_slug, safe='')}"
        )

    def message(self, body: Any) -> str:
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list):
            return ""
        parts = []
        for e in errors:
            if isinstance(e, dict):
                parts.append(str(e.get("message") or ""))
                parts += [
                    f"{v.get('summaryMessage')}: {v.get('detailedMessage')}"
                    for v in e.get("vetoes") or []
                    if isinstance(v, dict) and v.get("detailedMessage") != e.get("message")
                ]
                parts += [str(r.get("message")) for r in e.get("reviewerErrors") or [] if isinstance(r, dict)]
        return "; ".join(p for p in parts if p)

    def _paged(self, url: str, params: dict[str, Any] | None = None) -> list[Any]:
        values: list[Any] = []
        start = 0
        for _ in range(MAX_PAGES):
            body = self.call("GET", url, params={**(params or {}), "start": start, "limit": 100}) or {}
            values += body.get("values") or []
            if body.get("isLastPage", True) or body.get("nextPageStart") is None:
                break
            start = int(body["nextPageStart"])
        return values

    # -- reading ----------------------------------------------------------------------------------
    def open_pull_requests(self, target: str) -> list[PullRequest]:
        found = self._paged(
            f"{self.root}/pull-requests",
            {"state": "OPEN", "at": f"refs/heads/{target}", "direction": "INCOMING"},
        )
        return [self._pr(v) for v in found if isinstance(v, dict)]

    def get(self, pr_id: int) -> PullRequest:
        return self._pr(self.call("GET", f"{self.root}/pull-requests/{pr_id}"))

    def approvers(self, pr: PullRequest) -> list[str]:
        people = self._paged(f"{self.root}/pull-requests/{pr.id}/participants")
        return [
            str((p.get("user") or {}).get("name") or "")
            for p in people
            if isinstance(p, dict) and (p.get("status") == "APPROVED" or p.get("approved"))
        ]

    def declined_by(self, pr: PullRequest) -> str:
        for activity in self._paged(f"{self.root}/pull-requests/{pr.id}/activities"):
            if isinstance(activity, dict) and activity.get("action") == "DECLINED":
                who = activity.get("user") or {}
                return str(who.get("displayName") or who.get("name") or "someone")
        return "someone (no DECLINED activity found)"

    # -- writing ----------------------------------------------------------------------------------
    def create(
        self,
        *,
        title: str,
        description: str,
        source: str,
        target: str,
        reviewers: Sequence[str],
        close_source_branch: bool,
    ) -> PullRequest:
        body = {
            "title": title,
            "description": description,
            "fromRef": {"id": f"refs/heads/{source}"},
            "toRef": {"id": f"refs/heads/{target}"},
            "reviewers": [{"user": {"name": r}} for r in reviewers],
        }

        def judge(status: int, answer: Any) -> None:
            for e in (answer or {}).get("errors") or [] if isinstance(answer, dict) else []:
                if isinstance(e, dict) and "InvalidPullRequestReviewers" in str(e.get("exceptionName") or ""):
                    names = [
                        str(r.get("context")) for r in e.get("reviewerErrors") or [] if isinstance(r, dict)
                    ]
                    raise UnknownReviewers(names or list(reviewers), self.repository, self.message(answer))

        return self._pr(self.call("POST", f"{self.root}/pull-requests", json=body, judge=judge))

    def comment(self, pr: PullRequest, text: str) -> None:
        self.call("POST", f"{self.root}/pull-requests/{pr.id}/comments", json={"text": text})

    def decline(self, pr: PullRequest, comment: str) -> PullRequest:
        return self._versioned(pr, "decline", {"comment": comment} if comment else {})

    def merge(
        self, pr: PullRequest, *, strategy: str, message: str, close_source_branch: bool
    ) -> PullRequest:
        return self._versioned(pr, "merge", {"strategyId": STRATEGY[strategy], "message": message})

    def _versioned(self, pr: PullRequest, action: str, body: dict[str, Any]) -> PullRequest:
        """POST ``action`` with the pull request's current version; read it again once if it went stale."""
        for _attempt in (1, 2):
            current = self.get(pr.id)

            def judge(status: int, answer: Any, current: PullRequest = current) -> None:
                said = self.message(answer)
                errors = (
                    [e for e in (answer or {}).get("errors") or [] if isinstance(e, dict)]
                    if isinstance(answer, dict)
                    else []
                )
                names = " ".join(str(e.get("exceptionName") or "") for e in errors)
                if status == 409 and _STALE in names:
                    raise _Stale(said)
                if status == 409 and action == "merge":
                    kind = (
                        "conflict"
                        if any(e.get("conflicted") for e in errors)
                        else "not-open"
                        if "IllegalPullRequestState" in names
                        else "vetoed"
                    )
                    raise MergeRefused(kind, f"merge of pull request #{current.id} refused: {said}")

            try:
                answer = self.call(
                    "POST",
                    f"{self.root}/pull-requests/{pr.id}/{action}",
                    params={"version": current.version},
                    json={**body, "version": current.version},
                    ok=(200,),
                    judge=judge,
                )
            except _Stale:
                continue  # someone changed the pull request between our read and our write
            return self._pr(answer)
        raise MergeRefused("stale", f"{action} of pull request #{pr.id}: its version kept changing")

    def _pr(self, data: Any) -> PullRequest:
        data = data if isinstance(data, dict) else {}
        links = (data.get("links") or {}).get("self") or [{}]
        merge = (data.get("properties") or {}).get("mergeCommit") or {}
        return PullRequest(
            id=int(data.get("id") or 0),
            url=str((links[0] or {}).get("href") or ""),
            state=str(data.get("state") or ""),
            title=str(data.get("title") or ""),
            source=str((data.get("fromRef") or {}).get("id") or "").removeprefix("refs/heads/"),
            target=str((data.get("toRef") or {}).get("id") or "").removeprefix("refs/heads/"),
            author=str(((data.get("author") or {}).get("user") or {}).get("name") or ""),
            version=int(data["version"]) if isinstance(data.get("version"), int) else None,
            merge_commit=merge.get("id") or merge.get("displayId"),
        )
