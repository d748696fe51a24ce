"""The Jira settings, declared once: the site and credentials (:class:`JiraOptions`: jira-gate,
promote's ``jira`` gate, doctor) and what the release gate checks (:class:`JiraGateOptions`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from pipekit.core.errors import BadInput
from pipekit.core.options import option
from pipekit.jira.version import DEFAULT_PATTERN

if TYPE_CHECKING:
    from pipekit.clients.jira import JiraClient

Require = Literal["exists", "unreleased", "released"]
REQUIRE: tuple[str, ...] = get_args(Require)


@dataclass(kw_only=True)
class JiraOptions:
    """The Jira site and how to sign in to it (the token and the PAT only from the environment)."""

    site_url: str = option(
        "",
        flag="--jira-url",
        env="JIRA_BASE_URL",
        config="jira.base_url",
        pattern="^https?://",
        help="Jira site URL, e.g. https://example.atlassian.net.",
    )
    deployment: Literal["auto", "cloud", "datacenter"] = option(
        "auto",
        flag="--deployment",
        env="PIPEKIT_JIRA_DEPLOYMENT",
        config="jira.deployment",
        help="Jira Cloud (REST v3) or Data Center (REST v2); auto: datacenter with JIRA_PAT, else cloud.",
    )
    cloud_id: str | None = option(
        env="JIRA_CLOUD_ID",
        config="jira.cloud_id",
        min_length=1,
        help="Jira Cloud id: requests go through the API gateway (scoped API tokens).",
    )
    gateway_url: str = option("https://api.atlassian.com", env="PIPEKIT_JIRA_GATEWAY_URL")
    email: str | None = option(
        env="JIRA_USER_EMAIL",
        config="jira.user_email",
        min_length=3,
        help="The account's email for basic auth; the token only from JIRA_API_TOKEN.",
    )
    token: str | None = option(env="JIRA_API_TOKEN", secret=True)
    pat: str | None = option(env="JIRA_PAT", secret=True)
    timeout: float = option(
        30.0,
        flag="--timeout",
        env="PIPEKIT_JIRA_TIMEOUT",
        config="jira.timeout",
        minimum=0.0,
        help="Bound on all tries of one Jira request, seconds (429/503 retried).",
    )

    def client(self) -> JiraClient:
        """The Jira client; exit 2 naming the variables when something is missing."""
        from pipekit.clients.jira import CLOUD, DATACENTER, JiraClient

        if not self.site_url:
            raise BadInput(
                "no Jira: set JIRA_BASE_URL (or jira.base_url in pipekit.yaml, or pass --jira-url)"
            )
        from pipekit.core import masking

        if masking.without_userinfo(self.site_url) != self.site_url:  # it would print in every issue link
            masking.add_url_credentials(self.site_url)
            raise BadInput(
                f"JIRA_BASE_URL {masking.mask_url(self.site_url).replace('://', '://***@', 1)} carries "
                "user information: it would be printed in issue links and stored in the run record",
                hint="give the site URL alone; credentials go in JIRA_USER_EMAIL and JIRA_API_TOKEN "
                "(or JIRA_PAT)",
            )
        if not self.pat and not (self.email and self.token):
            missing = [
                n for n, val in (("JIRA_USER_EMAIL", self.email), ("JIRA_API_TOKEN", self.token)) if not val
            ]
            raise BadInput(
                f"no Jira credentials: {' and '.join(missing)} not set",
                hint="set JIRA_USER_EMAIL and JIRA_API_TOKEN (Jira Cloud, basic auth), or JIRA_PAT "
                "(Jira Data Center personal access token)",
            )
        deployment: str = self.deployment
        if deployment == "auto":
            deployment = DATACENTER if self.pat else CLOUD
        return JiraClient(
            self.site_url,
            email=self.email,
            token=self.token,
            pat=self.pat,
            cloud_id=self.cloud_id,
            deployment=deployment,
            gateway_url=self.gateway_url,
            timeout=self.timeout,
        )


@dataclass(kw_only=True)
class StatusesOptions:
    """The statuses an issue should be in: jira-gate fails on others, diff flags them."""

    allowed_statuses: tuple[str, ...] = option(
        (),
        flag="--allowed-statuses",
        env="PIPEKIT_JIRA_ALLOWED_STATUSES",
        config="jira.allowed_statuses",
        multiple=False,
        schema={
            "oneOf": [
                {"type": "array", "items": {"type": "string", "minLength": 1}},
                {"type": "string", "minLength": 1},
            ]
        },
        help="Statuses the issues must be in, e.g. 'Done,Ready for QA' [default: any status].",
    )


@dataclass(kw_only=True)
class JiraGateOptions(JiraOptions, StatusesOptions):
    """What the release gate checks: the version, what it must be, the statuses of its issues."""

    project: str = option(
        "",
        flag="--project",
        env="PIPEKIT_JIRA_PROJECT",
        config="jira.project",
        min_length=1,
        help="Jira project key.",
    )
    version: str | None = option(
        flag="--version",
        env="PIPEKIT_JIRA_VERSION",
        help="Version name [default: the "
        "git tag, else the Maven project version, through --version-pattern].",
    )
    require: Require = option(
        "unreleased",
        flag="--require",
        env="PIPEKIT_JIRA_REQUIRE",
        config="jira.require",
        help="What the version must be.",
    )
    jql: str | None = option(
        flag="--jql",
        env="PIPEKIT_JIRA_JQL",
        config="jira.jql",
        min_length=1,
        help="Extra JQL narrowing the issues checked.",
    )
    version_pattern: str = option(
        DEFAULT_PATTERN,
        flag="--version-pattern",
        env="PIPEKIT_JIRA_VERSION_PATTERN",
        config="jira.version_pattern",
        min_length=1,
        help="Regex taking the version from the tag or Maven version (its 'version' "
        "group, else group 1, else the match).",
    )
    pom: Path = option(Path("pom.xml"), flag="--pom", help="pom.xml for the Maven project version.")
    tag: str | None = field(default=None)  # the git tag of this build
