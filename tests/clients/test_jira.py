"""The Jira client against the local stand-in over real HTTP: paging, faults, Cloud and Data Center."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from pipekit.clients.jira import DATACENTER, JiraClient, ProjectNotFound
from pipekit.core.errors import BadInput, ExternalError
from pipekit.jira import gate
from pipekit.jira.jql import quote, version_issues
from pipekit.testing.jira import JiraStandIn

EMAIL, TOKEN = "ci@example.com", "jira-token-0123456789"


@pytest.fixture
def jira(jira_standin: JiraStandIn) -> JiraStandIn:
    jira_standin.reset(email=EMAIL, token=TOKEN)
    return jira_standin


def client(standin: JiraStandIn, **kw: object) -> JiraClient:
    args: dict = {"email": EMAIL, "token": TOKEN, "timeout": 10.0, **kw}
    return JiraClient(standin.base_url, **args)


def seed(standin: JiraStandIn, n: int, blocking: int = 0, version: str = "1.4.2") -> None:
    standin.add_version("ORD", version)
    for i in range(n):
        standin.add_issue(
            "ORD",
            f"change {i}",
            "In Progress" if i < blocking else "Done",
            fix_versions=(version,),
            assignee="Ada" if i % 2 else None,
        )


def search_calls(standin: JiraStandIn, path: str) -> list[tuple[str, str, int]]:
    return [r for r in standin.requests if r[1].endswith(path)]


def test_cloud_search_pages_by_token_until_is_last(jira: JiraStandIn) -> None:
    seed(jira, 120, blocking=3)
    seed(jira, 5, version="1.5.0")  # other versions' issues are not found
    found = list(client(jira, page_size=50).search(version_issues("ORD", "1.4.2")))
    assert len(found) == 120 and len({i.key for i in found}) == 120
    assert [r[2] for r in search_calls(jira, "/rest/api/3/search/jql")] == [200, 200, 200]
    first = found[0]
    assert first.status == "In Progress" and first.summary == "change 0" and first.assignee is None
    assert first.url == f"{jira.base_url}/browse/{first.key}"
    assert found[1].assignee == "Ada"


def test_versions_are_paged_and_compared_by_exact_name(jira: JiraStandIn) -> None:
    for n in range(120):
        jira.add_version("ORD", f"0.{n}.0")
    jira.add_version("ORD", "1.4.2-hotfix")
    jira.add_version("ORD", "1.4.2", released=True)
    c = client(jira)
    assert len(list(c.versions("ORD"))) == 122  # three pages of at most 50
    assert len(search_calls(jira, "/project/ORD/version")) == 3
    found = c.find_version("ORD", "1.4.2")
    assert found is not None and found.name == "1.4.2" and found.released
    assert (
        c.find_version("ORD", "1.4") is None
    )  # the loose query finds 1.4.2 and 1.4.2-hotfix: neither is 1.4


def test_datacenter_search_pages_by_start_at_and_total() -> None:
    with JiraStandIn(deployment=DATACENTER, pat="dc-pat-0123456789") as dc:
        seed(dc, 130, blocking=1)
        c = JiraClient(dc.base_url, pat="dc-pat-0123456789", deployment=DATACENTER, page_size=50)
        found = list(c.search(version_issues("ORD", "1.4.2")))
        assert len(found) == 130
        assert [r[1] for r in dc.requests if "search" in r[1]] == ["/rest/api/2/search"] * 3
        assert c.find_version("ORD", "1.4.2") is not None
        assert dc.requests[-1][1] == "/rest/api/2/project/ORD/version"


def test_cloud_retired_search_endpoint_answers_410(jira: JiraStandIn) -> None:
    c = client(jira)
    c.deployment, c.version = DATACENTER, "2"  # a Data Center client pointed at Cloud
    with pytest.raises(ExternalError, match="410 Gone"):
        list(c.search('project = "ORD"'))


@pytest.mark.slow
def test_429_with_retry_after_is_honoured(jira: JiraStandIn) -> None:
    seed(jira, 3)
    jira.fail_next(429, retry_after="1")
    started = time.monotonic()
    assert len(list(client(jira).search(version_issues("ORD", "1.4.2")))) == 3
    assert time.monotonic() - started >= 0.95
    assert [r[2] for r in jira.requests] == [429, 200]


@pytest.mark.slow
def test_429_with_only_x_ratelimit_reset_waits_until_then(jira: JiraStandIn) -> None:
    seed(jira, 3)
    at = (
        datetime.fromtimestamp(time.time() + 2, timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
    jira.fail_next(429, rate_limit_reset=at)  # Jira Cloud's ISO 8601 form, no Retry-After
    started = time.monotonic()
    assert len(list(client(jira).search(version_issues("ORD", "1.4.2")))) == 3
    assert time.monotonic() - started >= 0.9  # the full second(s) left until the reset time
    assert [r[2] for r in jira.requests] == [429, 200]


def test_429_and_503_without_retry_after_back_off_and_succeed(jira: JiraStandIn) -> None:
    seed(jira, 3)
    jira.fail_next(429)
    jira.fail_next(503)
    assert len(list(client(jira).search(version_issues("ORD", "1.4.2")))) == 3
    assert [r[2] for r in jira.requests] == [429, 503, 200]


@pytest.mark.slow
def test_rate_limited_past_the_total_time_is_external_error(jira: JiraStandIn) -> None:
    seed(jira, 3)
    jira.fail_next(429, times=20, retry_after="1")
    started = time.monotonic()
    with pytest.raises(ExternalError, match="failed after retries: HTTP 429"):
        list(client(jira, timeout=1.5).search(version_issues("ORD", "1.4.2")))
    assert time.monotonic() - started < 4


def test_wrong_credentials_are_bad_input_and_mention_the_gateway(jira: JiraStandIn) -> None:
    with pytest.raises(
        BadInput,
        match="401.*JIRA_USER_EMAIL and JIRA_API_TOKEN.*api.atlassian.com/ex/jira/"
        r"\{cloudId\}: set JIRA_CLOUD_ID",
    ):
        list(client(jira, token="wrong-token-xyz").versions("ORD"))


def test_scoped_token_works_through_the_gateway_only() -> None:
    with JiraStandIn(email=EMAIL, token=TOKEN, cloud_id="c0ffee-1234", scoped=True) as site:
        site.add_version("ORD", "1.4.2")
        with pytest.raises(BadInput, match="JIRA_CLOUD_ID"):
            list(client(site).versions("ORD"))
        via = client(site, cloud_id="c0ffee-1234", gateway_url=site.base_url)
        assert via.find_version("ORD", "1.4.2") is not None
        assert site.requests[-1][1] == "/ex/jira/c0ffee-1234/rest/api/3/project/ORD/version"


def test_unknown_project_names_it_with_jiras_message(jira: JiraStandIn) -> None:
    with pytest.raises(ProjectNotFound, match="'NOPE' not found: No project could be found with key 'NOPE'"):
        list(client(jira).versions("NOPE"))


def test_bad_jql_is_bad_input_naming_it(jira: JiraStandIn) -> None:
    seed(jira, 1)
    with pytest.raises(BadInput, match="Field 'colour' does not exist"):
        list(client(jira).search(version_issues("ORD", "1.4.2", "colour = red")))


def test_version_with_quotes_is_escaped_in_jql(jira: JiraStandIn) -> None:
    name = 'rel "2" \\ final'
    assert quote(name) == '"rel \\"2\\" \\\\ final"'
    seed(jira, 2, version=name)
    decision = gate.decide(client(jira), "ORD", name, allowed_statuses=["Done"])
    assert decision.passed and decision.issues == 2


def test_decision_lists_what_unblocks_each_issue(jira: JiraStandIn) -> None:
    seed(jira, 60, blocking=2)
    decision = gate.decide(client(jira), "ORD", "1.4.2", allowed_statuses=["Done"])
    assert not decision.passed and decision.issues == 60
    assert [b.unblock for b in decision.blocking] == [
        "move ORD-1 to Done or out of 1.4.2",
        "move ORD-2 to Done or out of 1.4.2",
    ]
    assert decision.reason == "2 of 60 issues in ORD 1.4.2 are not in Done"
    extra = gate.decide(
        client(jira),
        "ORD",
        "1.4.2",
        allowed_statuses=["done", "In Progress"],
        extra_jql='status != "Won\'t do"',
    )
    assert extra.passed and extra.issues == 60  # statuses compare without case


@pytest.mark.parametrize(
    "released, archived, require, passed, state",
    [
        (False, False, "unreleased", True, "unreleased"),
        (True, False, "unreleased", False, "released"),
        (False, False, "released", False, "unreleased"),
        (True, False, "released", True, "released"),
        (True, False, "exists", True, "released"),
        (False, True, "exists", False, "archived"),
    ],
)
def test_version_state_against_require(
    jira: JiraStandIn, released: bool, archived: bool, require: str, passed: bool, state: str
) -> None:
    jira.add_version("ORD", "2.0.0", released=released, archived=archived)
    decision = gate.decide(client(jira), "ORD", "2.0.0", require=require)
    assert (decision.passed, decision.state) == (passed, state)


def test_loosely_matching_version_is_missing_and_names_the_near_ones(jira: JiraStandIn) -> None:
    jira.add_version("ORD", "1.4.2-hotfix")
    jira.add_version("ORD", "Release 1.4.2", description="the 1.4.2 train")
    decision = gate.decide(client(jira), "ORD", "1.4.2")
    assert not decision.passed and decision.state == "missing"
    assert decision.similar == ["1.4.2-hotfix", "Release 1.4.2"]
