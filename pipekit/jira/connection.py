"""Jira's site, credentials and allowed statuses as options (the same variables and ``jira.*`` keys
as jira-gate), for the steps that look issues up: ``pipekit diff --jira``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipekit.clients.jira import CLOUD, DATACENTER, JiraClient
from pipekit.core.errors import BadInput
from pipekit.core.options import option


@dataclass(kw_only=True)
class JiraConnection:
    jira_url: str | None = option(flag="--jira-url", env="JIRA_BASE_URL", config="jira.base_url",
                                  help="Jira site URL, e.g. https://example.atlassian.net.")
    jira_deployment: Literal["auto", "cloud", "datacenter"] = option(
        "auto", env="PIPEKIT_JIRA_DEPLOYMENT", config="jira.deployment",
        help="Jira Cloud (REST v3) or Data Center (REST v2); auto: datacenter with JIRA_PAT, else cloud.")
    jira_cloud_id: str | None = option(env="JIRA_CLOUD_ID", config="jira.cloud_id",
                                       help="Jira Cloud id: requests go through the API gateway (scoped tokens).")
    jira_gateway_url: str = option("https://api.atlassian.com", env="PIPEKIT_JIRA_GATEWAY_URL",
                                   help="The Atlassian API gateway.")
    jira_email: str | None = option(env="JIRA_USER_EMAIL", config="jira.user_email",
                                    help="The account's email (basic auth with JIRA_API_TOKEN).")
    jira_token: str | None = field(default=None, repr=False, metadata=option(env="JIRA_API_TOKEN",
                                                                              secret=True).metadata)
    jira_pat: str | None = field(default=None, repr=False, metadata=option(env="JIRA_PAT", secret=True).metadata)
    jira_timeout: float = option(30.0, env="PIPEKIT_JIRA_TIMEOUT", config="jira.timeout", minimum=0,
                                 help="Bound on all tries of one Jira request, seconds.")
    allowed_statuses: list[str] = option(default_factory=list, flag="--allowed-statuses", comma=True,
                                         env="PIPEKIT_JIRA_ALLOWED_STATUSES", config="jira.allowed_statuses",
                                         help="Statuses an issue should be in, e.g. 'Done,Ready for QA': "
                                              "others are flagged.")


def client(c: JiraConnection) -> JiraClient:
    """The Jira client, or exit 2 naming what is missing."""
    if not c.jira_url:
        raise BadInput("no Jira: set JIRA_BASE_URL (or jira.base_url in pipekit.yaml, or pass --jira-url)")
    if not c.jira_pat and not (c.jira_email and c.jira_token):
        missing = [n for n, v in (("JIRA_USER_EMAIL", c.jira_email), ("JIRA_API_TOKEN", c.jira_token)) if not v]
        raise BadInput(f"no Jira credentials: {' and '.join(missing)} not set",
                       hint="set JIRA_USER_EMAIL and JIRA_API_TOKEN (Jira Cloud), or JIRA_PAT (Data Center)")
    deployment = c.jira_deployment if c.jira_deployment != "auto" else (DATACENTER if c.jira_pat else CLOUD)
    return JiraClient(c.jira_url, email=c.jira_email, token=c.jira_token, pat=c.jira_pat, cloud_id=c.jira_cloud_id,
                      deployment=deployment, gateway_url=c.jira_gateway_url, timeout=c.jira_timeout)
