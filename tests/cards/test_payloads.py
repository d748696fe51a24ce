"""Cards and Slack payloads: schema-valid for every Bitbucket build kind, escaped, within limits."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipekit.cards import model, render, slack, teams
from pipekit.cards import text as t
from pipekit.core.context import PipelineContext
from pipekit.core.runrecord import RunRecord
from tests.conftest import load_schema

SHA = "0123456789abcdef0123456789abcdef01234567"
BASE = {
    "BITBUCKET_COMMIT": SHA,
    "BITBUCKET_BUILD_NUMBER": "42",
    "BITBUCKET_REPO_SLUG": "orders",
    "BITBUCKET_WORKSPACE": "acme",
    "BITBUCKET_PIPELINE_UUID": "{1111-2222}",
    "BITBUCKET_STEP_UUID": "{3333}",
}
MATRIX = {
    "branch": {"BITBUCKET_BRANCH": "main"},
    "tag": {"BITBUCKET_TAG": "v1.4.0"},
    "pull-request": {
        "BITBUCKET_BRANCH": "feature/pay",
        "BITBUCKET_PR_ID": "17",
        "BITBUCKET_PR_DESTINATION_BRANCH": "main",
    },
    "custom": {"BITBUCKET_BRANCH": "release/2026.11"},
    "deployment": {"BITBUCKET_BRANCH": "main", "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "production"},
    "after-script-failed": {"BITBUCKET_BRANCH": "main", "BITBUCKET_EXIT_CODE": "1"},
}


def validate_card(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope's shape, then its card against the Adaptive Card 1.4 schema (msteams stripped)."""
    assert envelope["type"] == "message"
    (att,) = envelope["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = copy.deepcopy(att["content"])
    assert card.pop("msteams") == {"width": "Full"}
    assert card["version"] == "1.4"  # the schema does not enforce it
    schema = load_schema("adaptive-card-1.4.schema.json")
    jsonschema.validators.validator_for(schema)(schema).validate(card)
    return card


def full_record(tmp_path: Path) -> RunRecord:
    record = RunRecord(tmp_path / "run.json")
    record.update_step(
        "build",
        status="succeeded",
        started_at="2026-11-26T10:00:00Z",
        duration_s=83.2,
        outputs={
            "image": "acme/orders",
            "tags": ["1.4.0", SHA[:7]],
            "image_ref": "acme/orders:1.4.0",
            "tests": {
                "total": 124,
                "passed": 120,
                "failed": 2,
                "errored": 1,
                "skipped": 1,
                "flaky": 0,
                "duration_s": 41.5,
                "failing": [
                    {"class": "com.acme.PayTest", "name": "refund", "message": "expected <1> but was <2>"},
                    {"class": "com.acme.PayTest", "name": "charge", "message": "boom"},
                ],
            },
        },
    )
    record.update_step(
        "scan",
        status="succeeded",
        started_at="2026-11-26T10:02:00Z",
        duration_s=12.0,
        outputs={
            "summary": {
                "critical": 0,
                "high": 1,
                "medium": 3,
                "low": 7,
                "info": 0,
                "blocking": 0,
                "suppressed": 2,
                "passed": True,
                "tools": ["semgrep", "trivy"],
            }
        },
    )
    record.update_step(
        "ecr_push",
        status="succeeded",
        started_at="2026-11-26T10:03:00Z",
        duration_s=9.5,
        outputs={
            "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders",
            "tags": ["1.4.0"],
            "digest": "sha256:" + "a" * 64,
        },
    )
    record.update_step(
        "update_tag",
        status="succeeded",
        started_at="2026-11-26T10:04:00Z",
        duration_s=1.1,
        outputs={"gitops_revision": "f" * 40, "environment": "dev", "gitops_repo": "acme/gitops"},
    )
    record.update_step(
        "wait_for_argocd",
        status="failed",
        started_at="2026-11-26T10:05:00Z",
        duration_s=300.0,
        outputs={"apps": [{"name": "orders-dev", "sync": "Synced", "health": "Degraded", "phase": "Failed"}]},
    )
    return record


@pytest.mark.parametrize("kind", sorted(MATRIX))
@pytest.mark.parametrize(
    "event", ["started", "succeeded", "failed", "deployed", "promoted", "blocked", "summary"]
)
def test_every_build_kind_and_event_gives_a_valid_card_and_slack_payload(
    kind: str, event: str, tmp_path: Path
) -> None:
    pipeline = PipelineContext.from_env({**BASE, **MATRIX[kind]}, cwd=tmp_path)
    n = model.build(
        event, pipeline=pipeline, record=full_record(tmp_path), service="orders", stage="deploy-dev"
    )
    envelope, data = teams.message(n)
    card = validate_card(json.loads(data))
    text = json.dumps(card)
    assert "0123456" in text and f"/commits/{SHA}" in text
    assert {"Pipeline", "Commit"} <= {a["title"] for a in card["actions"]}
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Build"] == "#42"
    assert "acme/orders:1.4.0" not in facts["Image"] and facts["Image"].endswith("/orders:1.4.0")  # ECR wins
    assert facts["Digest"] == "sha256:" + "a" * 64
    assert facts["Tests"].startswith("120 passed, 2 failed, 1 errored, 1 skipped of 124")
    assert facts["Security scan"].startswith("passed: 0 critical, 1 high")
    assert facts["GitOps revision"] == "f" * 12 + " in acme/gitops"
    assert facts["Argo CD"] == "orders-dev: Synced / Degraded (Failed)"
    payload, sdata = slack.message(n)
    assert payload["text"] and len(payload["blocks"]) <= 50
    assert json.loads(sdata) == payload
    if kind == "tag":
        assert facts["Tag"] == "v1.4.0" and "Branch" not in facts
    elif kind == "pull-request":
        assert facts["Pull request"] == "#17 feature/pay → main"
        assert "Pull request" in {a["title"] for a in card["actions"]}
    elif kind == "custom":
        assert facts["Branch"] == "release/2026.11"
    elif kind == "deployment":
        assert facts["Environment"] == "production"
        if event == "deployed":
            assert card["body"][0]["items"][0]["text"].endswith("orders deployed to production")
    elif kind == "after-script-failed":
        assert facts["Step exit code"] == "1"
    if event == "summary":
        steps = card["body"][-1]["facts"]
        assert [s["title"] for s in steps] == [
            "build",
            "scan",
            "ecr\\_push",
            "update\\_tag",
            "wait\\_for\\_argocd",
        ]
        assert steps[0]["value"] == "✅ succeeded · 83.2 s"
        assert card["body"][0]["style"] == "attention"  # wait_for_argocd failed: the pipeline failed


def test_summary_of_a_clean_run_is_good_and_a_failed_after_script_turns_it_red(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run.json")
    record.update_step("build", status="succeeded", started_at="2026-11-26T10:00:00Z", duration_s=1.0)
    ok = model.build(
        "summary",
        pipeline=PipelineContext.from_env({**BASE, "BITBUCKET_BRANCH": "main"}, cwd=tmp_path),
        record=record,
        service="orders",
    )
    assert (ok.outcome, ok.style) == ("succeeded", "good")
    bad = model.build(
        "summary",
        pipeline=PipelineContext.from_env({**BASE, "BITBUCKET_EXIT_CODE": "2"}, cwd=tmp_path),
        record=record,
        service="orders",
    )
    assert (bad.outcome, bad.style) == ("failed", "attention")


def test_the_validator_does_bite(tmp_path: Path) -> None:
    """A 1.5-only element (Table) and a TextBlock without text are rejected: the schema check is real."""
    n = model.build(
        "started",
        pipeline=PipelineContext.from_env(BASE, cwd=tmp_path),
        record=RunRecord(tmp_path / "r.json"),
        service="orders",
    )
    envelope, _ = teams.message(n)
    for bad in ({"type": "Table", "columns": [], "rows": []}, {"type": "TextBlock"}):
        broken = copy.deepcopy(envelope)
        broken["attachments"][0]["content"]["body"].append(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate_card(broken)


def card_texts(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [item["text"]] if item["type"] == "TextBlock" else []
        out += [f["value"] for f in item.get("facts", [])]
        out += card_texts(item.get("items", []))
    return out


HOSTILE_SUBJECT = "Fix **all** the [things](https://evil.example/x) <!channel> & _more_ www.evil.example"
HOSTILE_BRANCH = "feat/[click](http://evil.example)*bold*"


def test_outside_text_cannot_add_links_or_markup(tmp_path: Path) -> None:
    pipeline = PipelineContext(
        commit=SHA,
        branch=HOSTILE_BRANCH,
        build_number="7",
        repo_full_name="acme/orders",
        author="Mallory <m@evil.example>",
        subject=HOSTILE_SUBJECT,
        in_bitbucket=True,
    )
    record = RunRecord(tmp_path / "run.json")
    record.update_step(
        "build",
        outputs={
            "tests": {
                "total": 1,
                "failed": 1,
                "failing": [
                    {"class": "T", "name": "x[y](https://evil.example)", "message": "<script>*boom*</script>"}
                ],
            }
        },
    )
    n = model.build(
        "failed",
        pipeline=pipeline,
        record=record,
        service="orders",
        message="see https://evil.example/login and [here](https://evil.example)",
    )
    _, data = teams.message(n)
    card = validate_card(json.loads(data))
    texts = "\n".join(card_texts(card["body"]))
    # Only our own commit link is markdown link syntax; nothing from outside makes a link.
    links = re.findall(r"(?<!\\)\[([^\]]*)(?<!\\)\]\(", texts)
    assert links == ["0123456"]
    assert "https://evil" not in texts and "www.evil" not in texts
    assert "\\*\\*all\\*\\*" in texts and "\\<!channel\\>" in texts and "\\_more\\_" in texts
    assert "feat/\\[click\\](http:\u2060//evil.example)\\*bold\\*" in texts
    assert [a["url"] for a in card["actions"]] == [
        "https://bitbucket.org/acme/orders/pipelines/results/7",
        f"https://bitbucket.org/acme/orders/commits/{SHA}",
    ]
    payload, _ = slack.message(n)
    mrkdwn = [
        e["text"]
        for b in payload["blocks"]
        for e in b.get("fields", [])
        + b.get("elements", [])
        + ([b["text"]] if isinstance(b.get("text"), dict) else [])
        if isinstance(e, dict) and e.get("type") == "mrkdwn"
    ]
    joined = "\n".join(mrkdwn)
    assert (
        "<!channel>" not in json.dumps(payload) or "&lt;!channel&gt;" in joined or "<!channel>" not in joined
    )
    assert re.findall(r"<([^>]*)>", joined) == [f"https://bitbucket.org/acme/orders/commits/{SHA}|0123456"]
    assert "*bold*" not in joined and "https://evil" not in json.dumps(payload)
    plain = [
        b["text"]["text"]
        for b in payload["blocks"]
        if b["type"] == "section" and "text" in b and b["text"]["type"] == "plain_text"
    ]
    assert plain and "evil.example/login" in plain[0]  # the message is shown, as plain text


def test_long_fields_are_cut_with_a_visible_marker_and_the_card_stays_under_28_kb(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run.json")
    failing = [
        {"class": f"com.acme.Test{i}", "name": "case_" + "x" * 300, "message": "m" * 2000} for i in range(400)
    ]
    record.update_step("build", outputs={"tests": {"total": 400, "failed": 400, "failing": failing}})
    for i in range(60):
        record.update_step(
            f"step{i:02d}", status="succeeded", started_at=f"2026-11-26T10:{i:02d}:00Z", duration_s=1.0
        )
    pipeline = PipelineContext(
        commit=SHA,
        branch="main",
        subject="S" * 5000,
        author="A",
        in_bitbucket=True,
        build_number="9",
        repo_full_name="acme/orders",
    )
    n = model.build("summary", pipeline=pipeline, record=record, service="orders", message="M" * 50_000)
    envelope, data = teams.message(n)
    assert len(data) <= 28 * 1024
    card = validate_card(envelope)
    dumped = json.dumps(card, ensure_ascii=False)
    assert "M… (truncated)" in dumped and "and 390 more (truncated)" in dumped
    payload, sdata = slack.message(n)
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if isinstance(block.get("text"), dict):
            assert len(block["text"]["text"]) <= (150 if block["type"] == "header" else 3000)
        assert len(block.get("fields", [])) <= 10
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
    assert "… (truncated)" in sdata.decode()


def test_text_helpers() -> None:
    assert t.truncate("abcdef", 6) == "abcdef"
    assert t.truncate("a" * 50, 20).endswith("… (truncated)") and len(t.truncate("a" * 50, 20)) == 20
    assert t.teams("- item\n1. two") == "\\- item\n1\\. two"
    assert "://" not in t.defuse_links("go to https://x.example now")
    assert t.slack_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_terminal_rendering_reads_like_the_card(tmp_path: Path) -> None:
    n = model.build(
        "failed",
        pipeline=PipelineContext.from_env({**BASE, **MATRIX["pull-request"]}, cwd=tmp_path),
        record=full_record(tmp_path),
        service="orders",
        stage="build",
    )
    shown = render.payload("teams", teams.message(n)[0])
    assert "❌ orders: build failed" in shown and re.search(
        r"\n  Pull request +#17 feature/pay → main\n", shown
    )
    assert "com.acme.PayTest.refund: expected <1> but was <2>" in shown
    assert "[Pipeline] https://bitbucket.org/acme/orders/pipelines/results/42/steps/%7B3333%7D" in shown
    shown_slack = render.payload("slack", slack.message(n)[0])
    assert "Tests: 120 passed" in shown_slack and "❌ orders: build failed" in shown_slack


def test_slack_fallback_text_is_escaped_mrkdwn(tmp_path: Path) -> None:
    n = model.build(
        "started",
        pipeline=PipelineContext(commit=SHA, in_bitbucket=True),
        record=RunRecord(tmp_path / "r"),
        service="<!here> svc",
        stage="*build*",
    )
    text = slack.payload(n)["text"]
    assert "<!here>" not in text and "&lt;!here&gt;" in text and "*build*" not in text


def test_the_once_only_key_ignores_what_the_run_record_adds_later(tmp_path: Path) -> None:
    pipeline = PipelineContext.from_env({**BASE, "BITBUCKET_BRANCH": "main"}, cwd=tmp_path)
    record = RunRecord(tmp_path / "run.json")
    before = model.build("started", pipeline=pipeline, record=record, service="orders", stage="deploy")
    record.update_step("update_tag", status="succeeded", outputs={"environment": "dev"})
    after = model.build("started", pipeline=pipeline, record=record, service="orders", stage="deploy")
    assert after.environment == "dev" and before.key == after.key == "1111-2222:deploy:started"
    qa = model.build(
        "deployed", pipeline=pipeline, record=record, service="orders", stage="deploy", environment="qa"
    )
    assert qa.key == "1111-2222:deploy:deployed:qa"


def test_the_build_card_names_flaky_tests(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run.json")
    record.update_step(
        "build",
        status="succeeded",
        started_at="2026-11-26T10:00:00Z",
        duration_s=1.0,
        outputs={
            "tests": {
                "total": 3,
                "passed": 3,
                "failed": 0,
                "errored": 0,
                "skipped": 0,
                "flaky": 1,
                "duration_s": 1.0,
                "failing": [],
                "flaky_tests": [
                    {
                        "class": "com.acme.PayTest",
                        "name": "refund",
                        "message": "expected: <200> but was: <503>",
                    }
                ],
            }
        },
    )
    n = model.build(
        "succeeded",
        pipeline=PipelineContext.from_env({**BASE, "BITBUCKET_BRANCH": "main"}, cwd=tmp_path),
        record=record,
        service="orders",
    )
    text = json.dumps(validate_card(json.loads(teams.message(n)[1])), ensure_ascii=False).replace("\\\\", "")
    assert "3 passed, 1 flaky of 3" in text
    assert (
        "Flaky tests (passed only on a rerun)" in text and "com.acme.PayTest.refund: expected: <200>" in text
    )


def test_the_promotion_card_links_the_gitops_pull_request(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run.json")
    url = "https://bitbucket.org/acme/gitops/pull-requests/7"
    record.update_step(
        "promote",
        status="succeeded",
        started_at="2026-11-26T10:00:00Z",
        duration_s=1.0,
        outputs={
            "from": "preprod",
            "to": "prod",
            "services": ["orders"],
            "status": "opened",
            "pull_requests": [
                {
                    "service": "orders",
                    "environment": "prod",
                    "branch": "pipekit/orders/prod/1.4.0",
                    "id": 7,
                    "url": url,
                    "state": "OPEN",
                }
            ],
        },
    )
    pipeline = PipelineContext.from_env({**BASE, "BITBUCKET_BRANCH": "main"})
    note = model.build("promoted", pipeline=pipeline, record=record, service="orders")
    assert [(link.title, link.url) for link in note.links if "GitOps" in link.title] == [
        ("GitOps pull request #7 (open)", url)
    ]
    card = validate_card(json.loads(teams.message(note)[1]))
    assert url in json.dumps(card)
