"""Jira: the site the config names answers ``/rest/api/2/serverInfo`` with the pipeline's credentials."""

from __future__ import annotations

from pipekit.diagnostics.check import Check, DoctorPlan, Outcome, fail, ok
from pipekit.diagnostics.http import get

KIND = "jira"


def checks(plan: DoctorPlan) -> list[Check]:
    url = plan.setting("jira.url", "PIPEKIT_JIRA_URL")
    if not url:
        return []
    return [Check("endpoint:jira", KIND, lambda: check(plan, str(url)))]


def check(plan: DoctorPlan, url: str) -> Outcome:
    token = plan.env.get("JIRA_API_TOKEN")
    user = plan.env.get("JIRA_USER") or plan.env.get("JIRA_EMAIL")
    if not token:
        return fail("Jira is configured but JIRA_API_TOKEN is not set", "add JIRA_API_TOKEN as a secured variable")
    auth = (user, token) if user else None
    answer = get(url.rstrip("/") + "/rest/api/2/serverInfo", timeout=plan.timeout, auth=auth,
                 token=None if user else token)
    if answer.error:
        return fail(f"Jira did not answer: {answer.error}", "check jira.url and the network")
    if answer.status in (401, 403):
        return fail(f"Jira rejected the credentials (HTTP {answer.status})", "renew JIRA_API_TOKEN (and JIRA_USER)")
    if answer.status != 200:
        return fail(f"Jira serverInfo answered HTTP {answer.status}", "check jira.url")
    version = answer.json.get("version", "?") if isinstance(answer.json, dict) else "?"
    return ok(f"Jira {version} answered")
