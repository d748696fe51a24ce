"""Promotion rules without git: the chain, auto/gated/manual, and the gate hook interface."""

from __future__ import annotations

import pytest

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.promotion import gates
from pipekit.promotion import rules as envs


def decide(section: dict, source: str, target: str, **kw: object) -> envs.Decision:
    options = {"approve": False, "in_bitbucket": False, "deployment_env": None, **kw}
    return envs.decide(envs.load(section), source, target, **options)  # type: ignore[arg-type]


def test_default_chain() -> None:
    loaded = envs.load({})
    assert [(e.name, e.promotion, e.source) for e in loaded.values()] == [
        ("dev", "auto", None),
        ("qa", "auto", "dev"),
        ("preprod", "auto", "qa"),
        ("prod", "manual", "preprod"),
    ]
    assert envs.ancestors(loaded, "prod") == ["preprod", "qa", "dev"]
    assert decide({}, "dev", "qa").rule == "auto"
    assert decide({}, "preprod", "prod", approve=True).rule == "manual"


def test_explicit_from_and_skip() -> None:
    section = {"dev": {}, "qa": {}, "hotfix": {"from": None}, "prod": {"from": "qa", "allow_skip": True}}
    assert decide(section, "qa", "prod").rule == "auto"
    assert decide(section, "dev", "prod").rule == "auto"  # skipping qa is allowed here
    with pytest.raises(CheckFailed, match="refused by the chain rule: hotfix is promoted from nowhere"):
        decide(section, "dev", "hotfix")
    with pytest.raises(BadInput, match="environments.qa.from: unknown environment 'stage'"):
        envs.load({"dev": {}, "qa": {"from": "stage"}})


def test_manual_in_bitbucket_needs_the_deployment_environment() -> None:
    with pytest.raises(CheckFailed, match="needs --approve"):
        decide({}, "preprod", "prod")
    with pytest.raises(CheckFailed, match="BITBUCKET_DEPLOYMENT_ENVIRONMENT is unset"):
        decide({}, "preprod", "prod", approve=True, in_bitbucket=True)
    assert (
        decide({}, "preprod", "prod", approve=True, in_bitbucket=True, deployment_env="prod").rule == "manual"
    )


def test_gated_returns_the_gates_and_bad_rules_are_bad_input() -> None:
    decision = decide({"dev": {}, "qa": {"promotion": "gated", "gates": ["jira", "pkg.mod:fn"]}}, "dev", "qa")
    assert decision.rule == "gated" and decision.gates == ["jira", "pkg.mod:fn"]
    with pytest.raises(BadInput, match="'sometimes' is not auto, gated or manual"):
        decide({"dev": {}, "qa": {"promotion": "sometimes"}}, "dev", "qa")
    with pytest.raises(BadInput, match="--from and --to are both 'qa'"):
        decide({}, "qa", "qa")


def test_gate_loading() -> None:
    from pipekit import jira_gate

    assert gates.load("jira") is jira_gate.evaluate  # the built-in name reaches pipekit.jira_gate
    with pytest.raises(gates.GateUnavailable, match="has no function nope"):
        gates.load("pipekit.promotion.gates:nope")
    assert gates.load("tests.fixtures.gitops.gate_hooks:passing").__name__ == "passing"
    request = gates.GateRequest("dev", "qa", {"orders": "x:1"})
    results = gates.check(["tests.fixtures.gitops.gate_hooks:passing"], request, ctx=None)  # type: ignore[arg-type]
    assert results[0][1].passed and results[0][1].reason == "1 image(s) approved"
    with pytest.raises(CheckFailed, match="lists no gate"):
        gates.check([], request, ctx=None)  # type: ignore[arg-type]
