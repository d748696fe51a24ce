"""Pull requests on Bitbucket Cloud, REST 2.0 (``/2.0/repositories/{workspace}/{repo_slug}/pullrequests``).

Lists page with ``pagelen``/``next``; a listed pull request has no participants, so approvals
are read from the pull request itself; merges name a ``merge_strategy`` (merge_commit, squash,
fast_forward) and answer with a 12-character ``merge_commit.hash`` (the caller resolves the full
one from the repository). Reviewers are account ids or ``{uuid}``s; when Cloud answers
"Malformed reviewers list" each reviewer is looked up (``/2.0/users/...``) to name the unknown ones.
Errors: ``{"type": "error", "error": {"message": ..., "fields": {...}}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from pipekit.clients.pull_requests import Api, MergeRefused, PullRequest, UnknownReviewers

API = "https://api.bitbucket.org"
STRATEGY = {"merge": "merge_commit", "squash": "squash", "fast-forward": "fast_forward"}
MAX_PAGES = 50


class BitbucketCloud(Api):
    flavour = "cloud"

    def __init__(self, api_url: str, workspace: str, repo_slug: str, **kwargs: Any) -> None:
        super().__init__(api_url or API, f"{workspace}/{repo_slug}", **kwargs)
        self.root = (
            f"{self.base_url}/2.0/repositories/{quote(workspace, safe='{}')}/{quote(repo_slug, safe='{}')}"
        )

    def message(self, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return ""
        text = str(error.get("message") or "")
        fields = error.get("fields")
        if isinstance(fields, dict) and fields and not any(k in text for k in fields):
            text += (
                " ("
                + "; ".join(
                    f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items()
                )
                + ")"
            )
        return text

    # -- reading ----------------------------------------------------------------------------------
    def open_pull_requests(self, target: str) -> list[PullRequest]:
        query = f'destination.branch.name = "{_quote(target)}"'
        url: str | None = f"{self.root}/pullrequests"
        params: dict[str, Any] | None = {"state": "OPEN", "q": query, "pagelen": 50}
        found: list[PullRequest] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            body = self.call("GET", url, params=params) or {}
            found += [self._pr(v) for v in body.get("values") or [] if isinstance(v, dict)]
            url, params = body.get("next"), None  # the next link carries the query
        return found

    def get(self, pr_id: int) -> PullRequest:
        return self._pr(self.call("GET", f"{self.root}/pullrequests/{pr_id}"))

    def approvers(self, pr: PullRequest) -> list[str]:
        body = self.call("GET", f"{self.root}/pullrequests/{pr.id}") or {}
        return [
            str((p.get("user") or {}).get("account_id") or (p.get("user") or {}).get("uuid"))
            for p in body.get("participants") or []
            if isinstance(p, dict) and p.get("approved")
        ]

    def declined_by(self, pr: PullRequest) -> str:
        return pr.closed_by or "someone (Bitbucket did not say who)"

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
            "source": {"branch": {"name": source}},
            "destination": {"branch": {"name": target}},
            "close_source_branch": close_source_branch,
            "reviewers": [{"uuid": r} if r.startswith("{") else {"account_id": r} for r in reviewers],
        }

        def judge(status: int, answer: Any) -> None:
            error = (answer or {}).get("error") if isinstance(answer, dict) else None
            fields = (error or {}).get("fields") if isinstance(error, dict) else None
            if status == 400 and isinstance(fields, dict) and "reviewers" in fields:
                raise UnknownReviewers(
                    self.unknown(reviewers) or list(reviewers), self.repository, self.message(answer)
                )

        return self._pr(self.call("POST", f"{self.root}/pullrequests", json=body, judge=judge))

    def unknown(self, reviewers: Sequence[str]) -> list[str]:
        """The reviewers Cloud has no user for (``GET /2.0/users/{id}`` answers 404)."""
        missing = []
        for reviewer in reviewers:
            response = self.session.get(f"{self.base_url}/2.0/users/{quote(reviewer, safe='{}:')}")
            if response.status_code == 404:
                missing.append(reviewer)
        return missing

    def comment(self, pr: PullRequest, text: str) -> None:
        self.call("POST", f"{self.root}/pullrequests/{pr.id}/comments", json={"content": {"raw": text}})

    def decline(self, pr: PullRequest, comment: str) -> PullRequest:
        if comment:
            self.comment(pr, comment)
        return self._pr(self.call("POST", f"{self.root}/pullrequests/{pr.id}/decline"))

    def merge(
        self, pr: PullRequest, *, strategy: str, message: str, close_source_branch: bool
    ) -> PullRequest:
        body = {
            "type": "pullrequest_merge_parameters",
            "merge_strategy": STRATEGY[strategy],
            "message": message,
            "close_source_branch": close_source_branch,
        }

        def judge(status: int, answer: Any) -> None:
            said = self.message(answer)
            if status == 409:
                raise MergeRefused("conflict", f"merge of pull request #{pr.id} refused: {said}")
            if status == 400:
                kind = (
                    "vetoed"
                    if "merge check" in said.lower()
                    else "not-open"
                    if "not open" in said.lower()
                    else "conflict"
                )
                raise MergeRefused(kind, f"merge of pull request #{pr.id} refused: {said}")

        answer = self.call(
            "POST", f"{self.root}/pullrequests/{pr.id}/merge", json=body, ok=(200, 202), judge=judge
        )
        if not isinstance(answer, dict) or "id" not in answer:  # 202: merging in the background
            return self.get(pr.id)
        return self._pr(answer)

    def _pr(self, data: Any) -> PullRequest:
        data = data if isinstance(data, dict) else {}
        author = data.get("author") or {}
        closed = data.get("closed_by") or {}
        return PullRequest(
            id=int(data.get("id") or 0),
            url=str(((data.get("links") or {}).get("html") or {}).get("href") or ""),
            state=str(data.get("state") or ""),
            title=str(data.get("title") or ""),
            source=str(((data.get("source") or {}).get("branch") or {}).get("name") or ""),
            target=str(((data.get("destination") or {}).get("branch") or {}).get("name") or ""),
            author=str(author.get("account_id") or author.get("uuid") or ""),
            merge_commit=(data.get("merge_commit") or {}).get("hash"),
            closed_by=closed.get("display_name") or closed.get("nickname") or None,
        )


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
