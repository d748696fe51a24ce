"""How a change reaches an environment (``via``) and, by pull request, where and under which rule.

``environments.<env>.via`` is ``commit`` (the default: straight to the GitOps branch) or
``pull-request``; ``environments.<env>.pull_request`` holds ``reviewers`` (Cloud: account ids or
``{uuid}``s; Data Center: user slugs), ``min_approvals`` (default 1; the author's own approval
never counts), ``merge_strategy`` (merge, squash or fast-forward), ``delete_branch``, and how the
step settles it: ``merge`` (pipekit merges once approved), ``wait_merge`` (the step waits for the
merge) and ``merge_timeout`` (seconds). ``--via``, ``--merge``, ``--wait-merge`` and
``--merge-timeout`` on update-tag, promote and rollback (or their ``PIPEKIT_PULL_REQUEST_*``
variables) beat the file.

The host: Bitbucket Data Center when ``PIPEKIT_BITBUCKET_SERVER_URL`` (or
``gitops.pull_request.server_url``) names its base URL, else Bitbucket Cloud at
``PIPEKIT_BITBUCKET_API_URL`` (default https://api.bitbucket.org). Workspace or project and
repository come from ``gitops.pull_request.{workspace|project,repository}``, else from the GitOps
repository's URL. Credentials: ``PIPEKIT_GITOPS_TOKEN`` (Bearer), with ``PIPEKIT_GITOPS_USERNAME``
for Basic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pipekit.clients.pull_requests import STRATEGIES, TOKEN_ENV, USERNAME_ENV, PullRequestHost
from pipekit.core.errors import BadInput

VIA = ("commit", "pull-request")
SERVER_ENV, API_ENV = "PIPEKIT_BITBUCKET_SERVER_URL", "PIPEKIT_BITBUCKET_API_URL"
CLOUD_HOSTS = ("bitbucket.org", "www.bitbucket.org")


@dataclass
class PullRequestRule:
    via: str = "commit"
    reviewers: list[str] = field(default_factory=list)
    min_approvals: int = 1
    merge_strategy: str = "merge"
    delete_branch: bool = True
    merge: bool = False  # pipekit merges once approved (--merge)
    wait_merge: bool = False  # the step waits for the merge (--wait-merge)
    merge_timeout: float = 3600.0  # seconds it waits (--merge-timeout)

    @property
    def by_pull_request(self) -> bool:
        return self.via == "pull-request"


def rule_for(environments: Any, env: str | None, via: str | None = None) -> PullRequestRule:
    """The environment's rule (``via`` from a flag wins), checked: a bad value is exit 2 naming its key."""
    section = environments.get(env) if isinstance(environments, Mapping) and env else None
    section = section if isinstance(section, Mapping) else {}
    where = f"environments.{env}" if env else "environments"
    chosen = via or section.get("via") or "commit"
    if chosen not in VIA:
        source = "--via" if via else f"{where}.via"
        raise BadInput(f"{source}: {chosen!r} is not one of {', '.join(VIA)}")
    raw = section.get("pull_request") or {}
    if not isinstance(raw, Mapping):
        raise BadInput(
            f"{where}.pull_request: expected a mapping (reviewers, min_approvals, merge_strategy, "
            "delete_branch, merge, wait_merge, merge_timeout)"
        )
    reviewers = raw.get("reviewers") or []
    if isinstance(reviewers, str):
        reviewers = [reviewers]
    if not isinstance(reviewers, list) or not all(isinstance(r, str) and r.strip() for r in reviewers):
        raise BadInput(
            f"{where}.pull_request.reviewers: expected a list of user names, account ids or {{uuid}}s"
        )
    approvals = raw.get("min_approvals", 1)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or approvals < 1:
        raise BadInput(
            f"{where}.pull_request.min_approvals: {approvals!r} is not a positive number",
            hint="1 or more: the approvals, other than the author's, a pull request needs",
        )
    strategy = raw.get("merge_strategy", "merge")
    if strategy not in STRATEGIES:
        raise BadInput(
            f"{where}.pull_request.merge_strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}"
        )
    switches = {}
    for key, default in (("delete_branch", True), ("merge", False), ("wait_merge", False)):
        switches[key] = raw.get(key, default)
        if not isinstance(switches[key], bool):
            raise BadInput(f"{where}.pull_request.{key}: {switches[key]!r} is not true or false")
    timeout = raw.get("merge_timeout", 3600.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise BadInput(f"{where}.pull_request.merge_timeout: {timeout!r} is not a number of seconds above 0")
    return PullRequestRule(
        chosen,
        [r.strip() for r in reviewers],
        approvals,
        strategy,
        switches["delete_branch"],
        switches["merge"],
        switches["wait_merge"],
        float(timeout),
    )


@dataclass
class Location:
    flavour: str  # cloud | datacenter
    base_url: str  # Cloud's API base or the Data Center server
    owner: str  # workspace or project key
    repository: str


def location(
    gitops_repo: str,
    *,
    server_url: str | None = None,
    api_url: str | None = None,
    workspace: str | None = None,
    project: str | None = None,
    repository: str | None = None,
) -> Location:
    """Where the GitOps repository's pull requests live (see the module's docstring)."""
    server = (server_url or "").strip()
    flavour = "datacenter" if server else "cloud"
    base = server or (api_url or "").strip() or "https://api.bitbucket.org"
    owner = (project or workspace or "") if flavour == "datacenter" else (workspace or project or "")
    repo = repository or ""
    if not (owner and repo):
        parsed = from_url(gitops_repo, flavour)
        if parsed is None:
            key = "project" if flavour == "datacenter" else "workspace"
            raise BadInput(
                f"cannot tell the Bitbucket {key} and repository from the GitOps repository {gitops_repo!r}",
                hint=f"set gitops.pull_request.{key} and gitops.pull_request.repository",
            )
        owner, repo = owner or parsed[0], repo or parsed[1]
    return Location(flavour, base.rstrip("/"), owner, repo)


def from_url(url: str, flavour: str) -> tuple[str, str] | None:
    """(workspace or project, repository) of a Bitbucket clone URL, or None (a local path, another host).

    Cloud: ``https://bitbucket.org/WS/REPO.git``, ``git@bitbucket.org:WS/REPO.git``; Data Center:
    ``https://HOST[/CONTEXT]/scm/PROJECT/REPO.git``, ``ssh://git@HOST:7999/PROJECT/REPO.git``.
    """
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", url)
    host, path = (scp.group(1), scp.group(2)) if scp else (urlsplit(url).hostname or "", urlsplit(url).path)
    if not host:
        return None
    parts = [p for p in path.split("/") if p]
    if parts and parts[-1].endswith(".git"):
        parts[-1] = parts[-1][:-4]
    if flavour == "datacenter" and "scm" in parts:
        parts = parts[parts.index("scm") + 1 :]
    if len(parts) != 2 or not all(parts):
        return None
    if flavour == "cloud" and host not in CLOUD_HOSTS:
        return None
    return parts[0], parts[1]


def host_for(where: Location, token: str | None, username: str | None = None) -> PullRequestHost:
    """The client for the GitOps repository's host; no token is exit 2 naming the variables."""
    token = (token or "").strip()
    if not token:
        raise BadInput(
            f"promotion by pull request needs credentials: set {TOKEN_ENV} (a repository, project or "
            f"workspace access token; with {USERNAME_ENV} for Basic authentication)"
        )
    if username == "x-token-auth":  # git's name for an access token over HTTPS; the API takes it as Bearer
        username = None
    if where.flavour == "datacenter":
        from pipekit.clients.bitbucket_dc import BitbucketDataCenter

        return BitbucketDataCenter(
            where.base_url, where.owner, where.repository, token=token, username=username
        )
    from pipekit.clients.bitbucket_cloud import BitbucketCloud

    return BitbucketCloud(where.base_url, where.owner, where.repository, token=token, username=username)
