"""The Jira gate's decision reaches notify's card: the step writes the record, the card reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipekit import jira_gate
from pipekit.cards import model, slack, teams
from pipekit.core.context import PipelineContext
from pipekit.core.errors import CheckFailed
from pipekit.core.step import StepContext
from pipekit.testing.jira import JiraStandIn
from tests.cards.test_payloads import validate_card

SHA = "0123456789abcdef0123456789abcdef01234567"


def context(tmp_path: Path, base_url: str) -> StepContext:
    env = {
        "JIRA_BASE_URL": base_url,
        "JIRA_USER_EMAIL": "ci@example.com",
        "JIRA_API_TOKEN": "tok-0123456789",
        "BITBUCKET_COMMIT": SHA,
        "BITBUCKET_REPO_SLUG": "orders",
    }
    return StepContext.create(env=env, run_record=tmp_path / "run.json", cwd=tmp_path)


def test_blocked_decision_is_a_fact_and_a_list_of_what_unblocks(tmp_path: Path) -> None:
    with JiraStandIn() as jira:
        jira.add_version("ORD", "1.4.2")
        for n in range(14):
            jira.add_issue("ORD", f"change <{n}>", "In Progress", fix_versions=("1.4.2",), assignee="Grace")
        ctx = context(tmp_path, jira.base_url)
        options = jira_gate.options_from(
            ctx, {"project": "ORD", "version": "1.4.2", "allowed_statuses": ("Done",)}
        )
        with pytest.raises(CheckFailed) as failed:
            jira_gate.run(options, ctx)
    assert (
        isinstance(failed.value.result, jira_gate.JiraGateResult) and len(failed.value.result.blocking) == 14
    )
    n = model.build(
        "blocked",
        pipeline=PipelineContext.from_env({"BITBUCKET_COMMIT": SHA}, cwd=tmp_path),
        record=ctx.record,
        service="orders",
        stage="jira-gate",
    )
    facts = {f.label: f.value for f in n.facts}
    assert facts["Jira gate"] == "BLOCKED: 14 of 14 issues in ORD 1.4.2 are not in Done"
    (detail,) = [d for d in n.details if d.title == "Jira blocking issues"]
    assert detail.lines[0] == "ORD-1 In Progress (Grace): change <0> → move ORD-1 to Done or out of 1.4.2"
    assert len(detail.lines) == 10 and detail.more == 4
    card = validate_card(json.loads(teams.message(n)[1]))
    assert "move ORD-1 to Done or out of 1.4.2" in json.dumps(card)
    assert "move ORD-1 to Done" in json.dumps(slack.message(n)[0])
    assert [s.name for s in model.step_lines(ctx.record)] == ["jira_gate"]


def test_passed_decision_is_one_fact(tmp_path: Path) -> None:
    with JiraStandIn() as jira:
        jira.add_version("ORD", "1.4.2")
        ctx = context(tmp_path, jira.base_url)
        result = jira_gate.run(jira_gate.options_from(ctx, {"project": "ORD", "version": "1.4.2"}), ctx)
    assert result.passed and result.state == "unreleased"
    n = model.build(
        "succeeded",
        pipeline=PipelineContext.from_env({}, cwd=tmp_path),
        record=ctx.record,
        service="orders",
        stage="jira-gate",
    )
    assert {f.label: f.value for f in n.facts}["Jira gate"] == "passed: version 1.4.2 of ORD is unreleased"
    assert not [d for d in n.details if d.title == "Jira blocking issues"]
