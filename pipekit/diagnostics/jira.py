"""Jira: the site jira-gate would use answers ``/rest/api/2/serverInfo`` with the pipeline's credentials.

The site and credentials are resolved from jira-gate's own declaration
(:class:`pipekit.jira.settings.JiraOptions`: ``JIRA_BASE_URL`` / ``jira.base_url``, ``JIRA_USER_EMAIL``
+ ``JIRA_API_TOKEN``, or ``JIRA_PAT``), so doctor checks exactly what the gate will use.
"""

from __future__ import annotations

from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok
from pipekit.diagnostics.http import get

KIND = "jira"


def checks(plan: DoctorPlan) -> list[Check]:
    from pipekit.core.options import resolve_from
    from pipekit.jira.settings import JiraOptions

    jira = resolve_from(JiraOptions, {}, plan.env, plan.config).options
    if not jira.site_url:
        return []
    return [
        Check("endpoint:jira", KIND, lambda: check(plan, jira.site_url, jira.email, jira.token, jira.pat))
    ]


def check(plan: DoctorPlan, url: str, user: str | None, token: str | None, pat: str | None) -> CheckOutcome:
    if not (user and token) and not pat:
        missing = "JIRA_USER_EMAIL" if token and not user else "JIRA_API_TOKEN"
        return fail(
            f"Jira is configured but {missing} is not set (nor JIRA_PAT)",
            "add JIRA_USER_EMAIL and JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center) as secured variables",
        )
    auth = (user, token) if user and token else None
    token = None if auth else pat
    answer = get(
        url.rstrip("/") + "/rest/api/2/serverInfo",
        timeout=plan.timeout,
        auth=auth,
        token=None if user else token,
    )
    if answer.error:
        return fail(
            f"Jira did not answer: {answer.error}", "check JIRA_BASE_URL (jira.base_url) and the network"
        )
    if answer.status in (401, 403):
        return fail(
            f"Jira rejected the credentials (HTTP {answer.status})", "renew JIRA_API_TOKEN (or JIRA_PAT)"
        )
    if answer.status != 200:
        return fail(f"Jira serverInfo answered HTTP {answer.status}", "check JIRA_BASE_URL (jira.base_url)")
    version = answer.json.get("version", "?") if isinstance(answer.json, dict) else "?"
    return ok(f"Jira {version} answered")
