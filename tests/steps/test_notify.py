"""`pipekit notify` over real HTTP to the local webhook sink: delivery, retries, once-only,
bad input, masking."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipekit import notify
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.step import StepContext
from pipekit.testing.sink import Answer, WebhookSink
from tests.conftest import REPO_ROOT, load_schema

SHA = "89abcdef0123456789abcdef0123456789abcdef"
BITBUCKET = {
    "BITBUCKET_COMMIT": SHA,
    "BITBUCKET_BRANCH": "main",
    "BITBUCKET_BUILD_NUMBER": "314",
    "BITBUCKET_REPO_FULL_NAME": "acme/payments",
    "BITBUCKET_REPO_SLUG": "payments",
    "BITBUCKET_PIPELINE_UUID": "{aaaa-bbbb}",
}
FAST = {"PIPEKIT_NOTIFY_TIMEOUT": "1", "PIPEKIT_NOTIFY_ATTEMPTS": "3", "PIPEKIT_NOTIFY_TOTAL_TIMEOUT": "10"}


@pytest.fixture
def sink(webhook_sink: WebhookSink) -> WebhookSink:
    return webhook_sink


@pytest.fixture
def secret() -> str:
    return "sig" + secrets.token_hex(12)


def make_ctx(tmp_path: Path, env: dict[str, str], config: str | None = None) -> StepContext:
    full = {"PATH": os.environ["PATH"], **BITBUCKET, **FAST, **env}
    cfg = None
    if config is not None:
        cfg = tmp_path / "pipekit.yaml"
        cfg.write_text(config)
    return StepContext.create(env=full, cwd=tmp_path, run_record=tmp_path / "run.json", config_path=cfg)


def run_cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    full.update(BITBUCKET, **FAST, PIPEKIT_RUN_RECORD=str(tmp_path / "run.json"))
    full.update(env or {})
    full["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pipekit.notify", *args],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def validate_card(envelope: dict[str, Any]) -> dict[str, Any]:
    (att,) = envelope["attachments"]
    card = copy.deepcopy(att["content"])
    card.pop("msteams", None)
    assert card["version"] == "1.4"
    schema = load_schema("adaptive-card-1.4.schema.json")
    jsonschema.validators.validator_for(schema)(schema).validate(card)
    return card


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- delivery and once-only ---------------------------------------------------


def test_posts_to_teams_and_slack_once_per_run_stage_and_event(tmp_path: Path, sink: WebhookSink) -> None:
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "PIPEKIT_SLACK_WEBHOOK_URL": sink.url("slack")}
    result = notify.run(notify.NotifyOptions(event="started", stage="build"), make_ctx(tmp_path, env))
    assert [(d.channel, d.status, d.http_status) for d in result.deliveries] == [
        ("teams", "sent", 202),
        ("slack", "sent", 200),
    ]
    teams_req, slack_req = sink.wait_for(2)
    card = validate_card(teams_req.json)
    assert card["body"][0]["items"][0]["text"] == "▶️ payments: build started"
    assert slack_req.json["text"].startswith("▶️ payments: build started")
    again = notify.run(notify.NotifyOptions(event="started", stage="build"), make_ctx(tmp_path, env))
    assert [d.status for d in again.deliveries] == ["already-sent", "already-sent"]
    assert len(sink.requests) == 2
    notify.run(notify.NotifyOptions(event="started", stage="deploy-dev"), make_ctx(tmp_path, env))
    assert len(sink.requests) == 4
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["steps"]["notify"]["outputs"]["sent"] == [
        "aaaa-bbbb:build:started@teams",
        "aaaa-bbbb:build:started@slack",
        "aaaa-bbbb:deploy-dev:started@teams",
        "aaaa-bbbb:deploy-dev:started@slack",
    ]


@pytest.mark.slow
def test_cli_says_already_sent_on_a_retried_step(tmp_path: Path, sink: WebhookSink) -> None:
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")}
    first = run_cli(tmp_path, "--event", "succeeded", "--stage", "build", env=env)
    assert first.returncode == 0, first.stderr
    second = run_cli(tmp_path, "--event", "succeeded", "--stage", "build", env=env)
    assert second.returncode == 0 and "already sent" in second.stdout
    assert len(sink.requests) == 1


def test_429_with_retry_after_is_waited_for(tmp_path: Path, sink: WebhookSink) -> None:
    sink.fail_next(429, retry_after=0.4, body="rate_limited")
    result = notify.run(
        notify.NotifyOptions(event="failed", stage="build"),
        make_ctx(tmp_path, {"PIPEKIT_SLACK_WEBHOOK_URL": sink.url("slack")}),
    )
    (d,) = result.deliveries
    assert (d.status, d.attempts) == ("sent", 2)
    first, second = sink.requests
    assert second.at - first.at >= 0.38
    assert first.body == second.body


@pytest.mark.slow
def test_500s_are_retried_then_delivered(tmp_path: Path, sink: WebhookSink) -> None:
    sink.fail_next(500, times=2)
    result = notify.run(
        notify.NotifyOptions(event="deployed"),
        make_ctx(
            tmp_path,
            {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "staging"},
        ),
    )
    assert [(d.status, d.attempts) for d in result.deliveries] == [("sent", 3)]
    assert [r.status for r in sink.requests] == [500, 500, 202]
    validate_card(sink.requests[-1].json)


@pytest.mark.slow
def test_persistent_500s_warn_and_exit_0_but_exit_3_with_strict(tmp_path: Path, sink: WebhookSink) -> None:
    sink.fail_next(503, times=3)
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "PIPEKIT_NOTIFY_ATTEMPTS": "3"}
    soft = run_cli(tmp_path, "--event", "failed", "--stage", "build", env=env)
    assert soft.returncode == 0
    assert "could not deliver to teams" in soft.stdout and "HTTP 503 after 3 attempts" in soft.stdout
    assert "use --strict" in soft.stdout
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["steps"]["notify"]["outputs"]["sent"] == []  # not remembered: a retry will post it
    sink.fail_next(503, times=3)
    strict = run_cli(tmp_path, "--event", "failed", "--stage", "build", "--strict", env=env)
    assert strict.returncode == 3
    assert "notification not delivered to teams" in strict.stderr
    assert len(sink.requests) == 6


def test_refused_connection_is_reported(tmp_path: Path) -> None:
    url = (
        f"http://127.0.0.1:{free_port()}/teams/workflows/x/triggers/manual/paths/invoke?sig=abcdef0123456789"
    )
    ctx = make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": url, "PIPEKIT_NOTIFY_ATTEMPTS": "2"})
    result = notify.run(notify.NotifyOptions(event="started", attempts=2), ctx)
    (d,) = result.deliveries
    assert d.status == "failed" and "ConnectionRefusedError" in (d.error or "")
    assert "abcdef0123456789" not in (d.error or "")
    with pytest.raises(ExternalError) as info:
        notify.run(notify.NotifyOptions(event="started", strict=True, attempts=2), ctx)
    assert info.value.exit_code == 3


@pytest.mark.slow
def test_slow_answers_time_out_and_are_retried(tmp_path: Path, sink: WebhookSink) -> None:
    sink.fail_next(202, delay=3.0)  # the first answer comes too late; the retry is answered at once
    # (within 1 s, a slow machine included: the read timeout is what is tested, not the machine's speed)
    ctx = make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "PIPEKIT_NOTIFY_TIMEOUT": "1"})
    ctx_opts = notify.NotifyOptions(event="started", timeout=1.0, attempts=2)
    result = notify.run(ctx_opts, ctx)
    assert [(d.status, d.attempts) for d in result.deliveries] == [("sent", 2)]
    sink.slow = 1.0  # now every answer is too slow
    failed = notify.run(notify.NotifyOptions(event="succeeded", timeout=0.2, attempts=2), ctx)
    assert failed.deliveries[0].status == "failed"
    assert "no answer within 0.2 s after 2 attempts" in (failed.deliveries[0].error or "")


def test_slack_error_strings_are_shown_with_a_hint(tmp_path: Path, sink: WebhookSink) -> None:
    sink.answer_next(Answer(404, "no_service"))
    result = notify.run(
        notify.NotifyOptions(event="blocked", stage="scan"),
        make_ctx(tmp_path, {"PIPEKIT_SLACK_WEBHOOK_URL": sink.url("slack")}),
    )
    (d,) = result.deliveries
    assert d.status == "failed" and "HTTP 404: no_service" in (d.error or "")
    assert "create a new incoming webhook" in (d.error or "")
    assert len(sink.requests) == 1  # a 4xx is not retried


def test_config_channels_with_event_filters(tmp_path: Path, sink: WebhookSink) -> None:
    config = """
notify:
  channels:
    - name: team
      type: teams
      webhook_env: TEAM_TEAMS_URL
    - name: ops-alerts
      type: slack
      webhook_env: OPS_SLACK_URL
      events: [failed, blocked]
"""
    env = {
        "TEAM_TEAMS_URL": sink.url("teams", "team-" + "x" * 20),
        "OPS_SLACK_URL": sink.url("slack", "ops-" + "y" * 20),
    }
    ctx = make_ctx(tmp_path, env, config)
    ok = notify.run(notify.options_from(ctx, {"event": "succeeded", "stage": "build"}), ctx)
    assert [(d.channel, d.status) for d in ok.deliveries] == [("team", "sent"), ("ops-alerts", "skipped")]
    ctx = make_ctx(tmp_path, env, config)
    bad = notify.run(notify.options_from(ctx, {"event": "failed", "stage": "build"}), ctx)
    assert [(d.channel, d.status) for d in bad.deliveries] == [("team", "sent"), ("ops-alerts", "sent")]
    assert [r.channel for r in sink.requests] == ["teams", "teams", "slack"]


def test_auto_event_in_a_failed_after_script(tmp_path: Path, sink: WebhookSink) -> None:
    result = notify.run(
        notify.NotifyOptions(event="auto", stage="build"),
        make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "BITBUCKET_EXIT_CODE": "1"}),
    )
    assert result.event == "failed"
    card = validate_card(sink.requests[0].json)
    assert card["body"][0]["style"] == "attention"
    assert {"title": "Step exit code", "value": "1"} in card["body"][2]["facts"]
    ok = notify.run(
        notify.NotifyOptions(event="auto", stage="test"),
        make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "BITBUCKET_EXIT_CODE": "0"}),
    )
    assert ok.event == "succeeded"


def test_summary_card_lists_each_step_from_the_run_record(tmp_path: Path, sink: WebhookSink) -> None:
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "succeeded",
                        "started_at": "2026-11-26T10:00:00Z",
                        "duration_s": 61.5,
                        "outputs": {"image_ref": "acme/payments:1.0.0"},
                    },
                    "scan": {
                        "status": "failed",
                        "started_at": "2026-11-26T10:01:05Z",
                        "duration_s": 3.25,
                        "outputs": {
                            "summary": {
                                "critical": 1,
                                "high": 0,
                                "medium": 0,
                                "low": 0,
                                "blocking": 1,
                                "passed": False,
                            }
                        },
                    },
                },
            }
        )
    )
    run_cli(tmp_path, "--event", "summary", env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")})
    card = validate_card(sink.requests[0].json)
    assert card["body"][0]["style"] == "attention"
    assert card["body"][-1]["facts"] == [
        {"title": "build", "value": "✅ succeeded · 61.5 s"},
        {"title": "scan", "value": "❌ failed · 3.2 s"},
    ]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Security scan"].startswith("BLOCKED (1 blocking): 1 critical")


def test_local_checkout_author_and_subject_on_the_card(git_repo: Path, sink: WebhookSink) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    env.update(
        PIPEKIT_TEAMS_WEBHOOK_URL=sink.url("teams"),
        PIPEKIT_RUN_RECORD=str(git_repo / "run.json"),
        PYTHONPATH=str(REPO_ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit", "notify", "--event", "started", "--json"],
        env=env,
        cwd=git_repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["deliveries"][0]["status"] == "sent" and result["key"].startswith("local-")
    card = validate_card(sink.requests[0].json)
    assert "by Dev Eloper: Add the service" in card["body"][1]["text"]
    assert card["body"][0]["items"][0]["text"] == "▶️ service: pipeline started"  # the checkout's folder name


# -- bad input ------------------------------------------------------------------


def test_missing_webhook_exits_2_naming_the_variables(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--event", "started")
    assert proc.returncode == 2
    assert "PIPEKIT_TEAMS_WEBHOOK_URL" in proc.stderr and "PIPEKIT_SLACK_WEBHOOK_URL" in proc.stderr
    assert not (tmp_path / "run.json").exists()


@pytest.mark.slow
def test_config_channel_without_its_variable_exits_2_naming_it_and_the_line(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text(
        "service: payments\nnotify:\n  channels:\n"
        "    - {name: ops, type: slack, webhook_env: OPS_SLACK_URL}\n"
    )
    proc = run_cli(tmp_path, "--event", "started")
    assert proc.returncode == 2
    assert "OPS_SLACK_URL is not set (pipekit.yaml:4, channel 'ops')" in proc.stderr


def test_unknown_event_exits_2_listing_the_valid_ones(tmp_path: Path, sink: WebhookSink) -> None:
    proc = run_cli(tmp_path, "--event", "finished", env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")})
    assert proc.returncode == 2
    assert (
        "unknown event 'finished': use one of started, succeeded, failed, deployed, promoted, "
        "blocked, summary or auto" in proc.stderr
    )
    assert sink.requests == []


def test_unreadable_run_record_exits_2_naming_it(tmp_path: Path, sink: WebhookSink) -> None:
    (tmp_path / "run.json").write_text('{"version": 1, "steps": {')
    proc = run_cli(tmp_path, "--event", "started", env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")})
    assert proc.returncode == 2 and f"{tmp_path / 'run.json'}:1:" in proc.stderr
    assert sink.requests == []


def test_malformed_config_exits_2_with_file_line_and_path(tmp_path: Path, sink: WebhookSink) -> None:
    (tmp_path / "pipekit.yaml").write_text(
        "notify:\n  channels:\n    - name: ops\n      type: email\n      webhook_env: X_URL\n"
    )
    proc = run_cli(tmp_path, "--event", "started", env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")})
    assert proc.returncode == 2
    assert re.search(r"pipekit\.yaml:4: notify\.channels\.0\.type: 'email' is not one of", proc.stderr), (
        proc.stderr
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.webhook.office.com/webhookb2/1111@2222/IncomingWebhook/abcdefabcdef/3333",
        "https://outlook.office.com/webhook/1111@2222/IncomingWebhook/abcdefabcdef/3333",
    ],
)
def test_retired_office_365_connector_url_is_refused_clearly(tmp_path: Path, url: str) -> None:
    proc = run_cli(tmp_path, "--event", "started", env={"PIPEKIT_TEAMS_WEBHOOK_URL": url})
    assert proc.returncode == 2
    assert "PIPEKIT_TEAMS_WEBHOOK_URL (channel 'teams') is an Office 365 connector URL" in proc.stderr
    assert "retired" in proc.stderr and "Workflows" in proc.stderr
    assert "abcdefabcdef" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "https://hooks.example:99999/services/abcdefabcdef",
            "has a port that is not a number from 0 to 65535",
        ),
        ("https://hooks.example/services/abcdef abcdef", "has characters that must be percent-encoded"),
        ("hooks.example/services/abcdefabcdef", "is not an http(s) URL"),
    ],
)
def test_a_webhook_url_that_cannot_be_sent_exits_2_naming_the_variable(
    tmp_path: Path, url: str, problem: str
) -> None:
    proc = run_cli(tmp_path, "--event", "started", env={"PIPEKIT_SLACK_WEBHOOK_URL": url})
    assert proc.returncode == 2, proc.stderr
    assert f"PIPEKIT_SLACK_WEBHOOK_URL (channel 'slack') {problem}" in proc.stderr
    assert "abcdef" not in proc.stderr + proc.stdout


def test_library_api_raises_bad_input() -> None:
    with pytest.raises(BadInput):
        notify.resolve_event("nope", None)
    assert notify.resolve_event("AUTO", 2) == "failed"


# -- secrets ------------------------------------------------------------------


@pytest.mark.slow
def test_webhook_secrets_never_appear_in_output_or_run_record(
    tmp_path: Path, sink: WebhookSink, secret: str
) -> None:
    teams_url = sink.url("teams", secret)
    slack_url = sink.url("slack", "S" + secret)
    env = {
        "PIPEKIT_TEAMS_WEBHOOK_URL": teams_url,
        "PIPEKIT_SLACK_WEBHOOK_URL": slack_url,
        "PIPEKIT_NOTIFY_ATTEMPTS": "2",
    }
    outputs = []
    outputs.append(
        run_cli(tmp_path, "--event", "started", "--debug", "--message", f"leak {teams_url}", env=env)
    )
    sink.fail_next(500, times=2, body=f"echo {slack_url}")
    outputs.append(run_cli(tmp_path, "--event", "failed", "--debug", "--json", env=env))
    outputs.append(
        run_cli(tmp_path, "--event", "failed", "--debug", "--strict", env=env)
    )  # teams done; slack again
    outputs.append(run_cli(tmp_path, "--event", "nonsense", "--debug", env=env))
    assert [p.returncode for p in outputs] == [0, 0, 0, 2]
    assert "DEBUG:" in outputs[0].stderr and "POST" in outputs[0].stderr  # debug really was on
    everything = "".join(p.stdout + p.stderr for p in outputs) + (tmp_path / "run.json").read_text()
    everything += "".join(r.text for r in sink.requests)  # nor in what was posted (the --message leak)
    for part in (secret, "S" + secret, teams_url, slack_url, "/slack/services/T000/B000/S" + secret):
        assert part not in everything
    assert "***" in everything


def test_optional_channel_without_its_variable_is_skipped_and_stage_filters_apply(
    tmp_path: Path, sink: WebhookSink
) -> None:
    config = """
notify:
  channels:
    - {name: team, type: teams, webhook_env: TEAM_WEBHOOK_URL, stages: [deploy-prod]}
    - {name: maybe, type: slack, webhook_env: MAYBE_WEBHOOK_URL, optional: true}
"""
    ctx = make_ctx(tmp_path, {"TEAM_WEBHOOK_URL": sink.url("teams")}, config)
    build = notify.run(notify.options_from(ctx, {"event": "started", "stage": "build"}), ctx)
    assert [(d.channel, d.status) for d in build.deliveries] == [("team", "skipped"), ("maybe", "skipped")]
    prod = notify.run(notify.options_from(ctx, {"event": "started", "stage": "deploy-prod"}), ctx)
    assert [(d.channel, d.status) for d in prod.deliveries] == [("team", "sent"), ("maybe", "skipped")]
    assert len(sink.requests) == 1


def test_http_proxy_from_the_environment_is_used(tmp_path: Path, sink: WebhookSink) -> None:
    url = "http://teams.example.invalid/teams/workflows/1/triggers/manual/paths/invoke?sig=0123456789abcdef"
    proxy = f"http://ci%40acme:pa%3Ass@127.0.0.1:{sink.port}"  # ci@acme / pa:ss, percent-encoded in the URL
    ctx = make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": url, "HTTP_PROXY": proxy})
    result = notify.run(notify.NotifyOptions(event="started", attempts=1), ctx)
    assert [d.status for d in result.deliveries] == ["sent"]
    (req,) = sink.requests
    assert req.path == url and req.json["type"] == "message"  # the proxy got the absolute URL
    assert req.headers["Host"] == "teams.example.invalid"
    assert req.headers["Proxy-Authorization"] == "Basic Y2lAYWNtZTpwYTpzcw=="  # base64 of ci@acme:pa:ss


@pytest.mark.slow
def test_a_retry_posts_only_to_the_channel_that_failed(tmp_path: Path, sink: WebhookSink) -> None:
    dead_slack = f"http://127.0.0.1:{free_port()}/slack/services/T/B/abcdefabcdef"
    env = {
        "PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"),
        "PIPEKIT_SLACK_WEBHOOK_URL": dead_slack,
        "PIPEKIT_NOTIFY_ATTEMPTS": "1",
    }
    first = run_cli(tmp_path, "--event", "deployed", "--stage", "deploy", "--strict", env=env)
    assert first.returncode == 3 and "notification not delivered to slack" in first.stderr
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["steps"]["notify"]["outputs"]["sent"] == ["aaaa-bbbb:deploy:deployed@teams"]
    assert record["steps"]["notify"]["status"] == "error"
    env["PIPEKIT_SLACK_WEBHOOK_URL"] = sink.url("slack")
    retry = run_cli(tmp_path, "--event", "deployed", "--stage", "deploy", "--strict", env=env)
    assert retry.returncode == 0, retry.stderr
    assert "already sent: deployed for stage deploy to teams" in retry.stdout
    assert [r.channel for r in sink.requests] == ["teams", "slack"]
