"""Secrets never reach a card: masked before escaping and truncation, and in the final payload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipekit.cards import text as t
from pipekit.core import masking
from pipekit.testing.sink import WebhookSink
from tests.steps.test_notify import run_cli

TOKEN = "eyJhbGciOi_JIUzI1NiJ9.eyJzdWIi_OiJjaSJ9.sig_PART_xyz"
PIECES = ("eyJhbGciOi", "JIUzI1NiJ9", "eyJzdWIi", "OiJjaSJ9", "sig_PART", "PART_xyz", "PART\\_xyz")


def leaked(text: str) -> list[str]:
    plain = text.replace("\\", "").replace("\u200b", "").replace("\u2060", "")
    return [p for p in PIECES if p in text or p.replace("\\", "") in plain]


@pytest.mark.parametrize("channel", ["teams", "slack"])
def test_a_token_in_the_message_is_masked_in_the_card_debug_and_json(tmp_path: Path, channel: str) -> None:
    with WebhookSink() as sink:
        env = {f"PIPEKIT_{channel.upper()}_WEBHOOK_URL": sink.url(channel), "ARGOCD_AUTH_TOKEN": TOKEN}
        proc = run_cli(
            tmp_path,
            "--event",
            "failed",
            "--stage",
            "build",
            "--message",
            f"bad token {TOKEN}",
            "--json",
            "--debug",
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        (request,) = sink.requests
    for where, text in (("posted", request.text), ("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert not leaked(text), f"{where}: {leaked(text)}"
    assert "bad token ***" in request.text.replace("\\", "")  # Teams escapes the mask as \\*\\*\\*


def test_a_failing_test_message_with_a_secret_is_masked_in_slack_mrkdwn(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "failed",
                        "outputs": {
                            "tests": {
                                "total": 1,
                                "failed": 1,
                                "failing": [
                                    {
                                        "class": "OrdersIT",
                                        "name": "login",
                                        "message": f"401 for token {TOKEN}",
                                    }
                                ],
                            }
                        },
                    }
                },
            }
        )
    )
    with WebhookSink() as sink:
        env = {"PIPEKIT_SLACK_WEBHOOK_URL": sink.url("slack"), "ARGOCD_AUTH_TOKEN": TOKEN}
        proc = run_cli(tmp_path, "--event", "failed", "--stage", "build", "--debug", env=env)
        assert proc.returncode == 0, proc.stderr
        (request,) = sink.requests
    assert "OrdersIT" in request.text
    assert not leaked(request.text) and not leaked(proc.stderr)


def test_truncation_never_cuts_a_secret_into_an_unmaskable_piece() -> None:
    secret = "S3cr3t" + "x" * 34  # 40 characters
    masking.add_secret(secret)
    text = "a" * 480 + " " + secret
    for out in (
        t.teams(text, 500),
        t.slack_mrkdwn(text, 600),
        t.slack_plain(text, 500),
        t.truncate(text, 500),
    ):
        assert "S3cr3t" not in out and "x" * 20 not in out, out
