"""The repository settings a generated pipeline needs, and which of them a repository lacks.

Every variable is needed by the steps that use it: the build and push step (AWS, and the ECR
image pull of every step), the deploy steps (GitOps, Argo CD, Jira), every step (a chat
webhook for ``notify``). A variable may be a workspace or repository variable, or a deployment
variable of every environment whose step needs it; a setting in the service's ``pipekit.yaml``
(say ``argocd.server``) makes its variable unnecessary. ``pipekit init --check`` reads the
repository's settings through the Bitbucket API when ``PIPEKIT_BITBUCKET_TOKEN`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipekit.onboarding.answers import Answers

ALL, DEPLOY = "every step", "the deploy steps"
_BITBUCKET_REMOTE = re.compile(
    r"(?:https://(?:[^@/]+@)?|ssh://git@|git@)bitbucket\.org[:/]([^/]+)/([^/]+?)(?:\.git)?/?"
)


@dataclass(frozen=True)
class Need:
    names: tuple[str, ...]  # one of them is enough (all of a group joined by '+')
    why: str
    steps: str  # ALL or DEPLOY: where a deployment variable must be set instead
    config: str | None = None  # a pipekit.yaml key that makes the variable unnecessary
    envs: tuple[str, ...] = ()  # DEPLOY: only these environments' steps (none: every deploy step)

    def label(self) -> str:
        return " or ".join(self.names)


def needs(answers: Answers, config: Mapping[str, Any]) -> list[Need]:
    """What this service's generated pipeline reads from its repository settings."""
    out = [
        Need(
            ("AWS_ROLE_ARN",),
            "the OIDC role that pushes to ECR"
            + (" and pulls the base image from ECR" if ".dkr.ecr." in answers.registry else ""),
            ALL,
        )
    ]
    if answers.gitops_url.startswith(("https://", "http://")):
        out.append(Need(("PIPEKIT_GITOPS_TOKEN",), "push access to the GitOps repository (HTTPS)", DEPLOY))
    by_pr = answers.pull_request_envs
    if by_pr and not answers.gitops_url.startswith(("https://", "http://")):
        out.append(
            Need(
                ("PIPEKIT_GITOPS_TOKEN",),
                "Bitbucket's API: open and merge the pull requests",
                DEPLOY,
                envs=by_pr,
            )
        )
    if by_pr and pull_request_host(answers.gitops_url) == "datacenter":
        out.append(
            Need(
                ("PIPEKIT_BITBUCKET_SERVER_URL",),
                "the Bitbucket Data Center the pull requests go to",
                DEPLOY,
                "gitops.pull_request.server_url",
                envs=by_pr,
            )
        )
    out += [
        Need(("ARGOCD_SERVER",), "the Argo CD API server wait-for-argocd asks", DEPLOY, "argocd.server"),
        Need(("ARGOCD_AUTH_TOKEN",), "an Argo CD token that may read (and refresh) the applications", DEPLOY),
    ]
    if answers.jira_project:
        out += [
            Need(("JIRA_BASE_URL",), "the Jira site of qa's gate", DEPLOY, "jira.base_url"),
            Need(("JIRA_API_TOKEN+JIRA_USER_EMAIL", "JIRA_PAT"), "Jira credentials of qa's gate", DEPLOY),
        ]
    out.append(Need(("PIPEKIT_TEAMS_WEBHOOK_URL", "PIPEKIT_SLACK_WEBHOOK_URL"), "where notify posts", ALL))
    return [n for n in out if not (n.config and _get(config, n.config))]


def missing(answers: Answers, config: Mapping[str, Any], found: Any) -> list[str]:
    """The settings ``found`` (a :class:`pipekit.clients.bitbucket.RepositorySettings`)
    lacks, each a sentence."""
    problems = [
        f"Bitbucket deployment environment {env!r} does not exist: create it (Repository settings > "
        "Deployments) before the pipeline's first run"
        for env in answers.environments
        if env not in found.environments
    ]
    shared = found.repository | found.workspace
    deploy_envs = [env for env in answers.environments if env in found.environments]
    for need in needs(answers, config):

        def have(names: set[str], need: Need = need) -> bool:
            return any(set(option.split("+")) <= names for option in need.names)

        if have(shared):
            continue
        envs = [e for e in deploy_envs if not need.envs or e in need.envs] if need.steps == DEPLOY else []
        if envs and all(have(found.environments[env]) for env in envs):
            continue  # a deployment variable in every environment that needs it
        lacking = [env for env in envs if not have(found.environments[env])]
        where = f", nor a deployment variable of {', '.join(lacking)}" if envs else ""
        steps = f"the deploy steps of {', '.join(need.envs)}" if need.envs else need.steps
        problems.append(
            f"{need.label()} is not a repository or workspace variable{where}: {need.why}, needed by {steps}"
        )
    if answers.gitops_url.startswith(("git@", "ssh://")) and not found.ssh_key:
        problems.append(
            "no SSH key in the repository's Pipelines settings: the deploy steps push to the GitOps "
            f"repository {answers.gitops_url} over SSH (add a key with write access to it)"
        )
    return problems


def pull_request_host(gitops_url: str) -> str | None:
    """``cloud`` or ``datacenter`` when the GitOps URL names the repository's Bitbucket
    (None: it does not)."""
    from pipekit.promotion.pull_request_settings import from_url

    if from_url(gitops_url, "cloud"):
        return "cloud"
    return "datacenter" if from_url(gitops_url, "datacenter") else None


def repository_of(url: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(workspace, repository slug) of the service: its Bitbucket origin, else the Pipelines variables."""
    found = _BITBUCKET_REMOTE.fullmatch(url or "")
    if found:
        return found.group(1), found.group(2)
    if env.get("BITBUCKET_WORKSPACE") and env.get("BITBUCKET_REPO_SLUG"):
        return env["BITBUCKET_WORKSPACE"], env["BITBUCKET_REPO_SLUG"]
    return None


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node
