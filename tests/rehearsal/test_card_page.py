"""The page of Teams cards rendered by Microsoft's Adaptive Cards renderer, opened in real headless Chromium.

Real parts: `pipekit notify` processes posting to the local webhook sink, npm `adaptivecards` and
`markdown-it` (installed by scripts/dev into .venv/card-renderer, never fetched by the test), and
Debian's chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.rehearsal import card_page
from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT

RENDERER_DIR = REPO_ROOT / ".venv" / "card-renderer"


@pytest.fixture(scope="module")
def modules() -> Path:
    found = card_page.ensure_renderer(
        {"PIPEKIT_CARD_RENDERER_DIR": str(RENDERER_DIR), "PATH": "/nonexistent"}
    )
    if found is None:
        pytest.fail(
            f"the Adaptive Cards renderer is not installed in {RENDERER_DIR}: run scripts/dev bootstrap"
        )
    return found


def notify(sink: WebhookSink, tmp_path: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    env.update(
        PIPEKIT_TEAMS_WEBHOOK_URL=sink.url("teams"),
        PIPEKIT_RUN_RECORD=str(tmp_path / "run.json"),
        BITBUCKET_BUILD_NUMBER="7",
        BITBUCKET_REPO_SLUG="orders-api",
        BITBUCKET_WORKSPACE="acme",
        BITBUCKET_COMMIT="0123456789abcdef0123456789abcdef01234567",
        PYTHONPATH=str(REPO_ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit.notify", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_every_card_renders_in_chromium(tmp_path: Path, modules: Path) -> None:
    with WebhookSink() as sink:
        notify(sink, tmp_path, "--event", "started", "--stage", "pipeline")
        notify(
            sink,
            tmp_path,
            "--event",
            "failed",
            "--stage",
            "build",
            "--message",
            "see [the build log](https://example.invalid/log) for **OrdersTest**",
        )
        notify(sink, tmp_path, "--event", "summary", "--stage", "pipeline")
        payloads = [(f"{i}: {req.path}", req.json) for i, req in enumerate(sink.wait_for(3))]
    cards = card_page.cards_from_payloads(payloads)
    assert len(cards) == 3

    page = card_page.write_page(cards, tmp_path / "cards" / "index.html", modules)
    assert (page.parent / "renderer" / "adaptivecards.min.js").stat().st_size > 100_000
    dom = subprocess.run(
        card_page.chromium_argv(page, tmp_path / "profile"), capture_output=True, text=True, timeout=90
    ).stdout
    status = card_page.read_status(dom)
    assert status is not None, dom[-2000:]
    assert [s["ok"] for s in status] == [True, True, True], status
    assert all(s["elements"] > 5 for s in status)
    assert ">0123456</a>" in dom  # the markdown processor turned the commit link into an anchor
    assert "see [the build log](https:" in dom and ">the build log</a>" not in dom  # a message stays text
    assert "pipekit cards: 3/3 rendered" in dom

    shot = tmp_path / "cards.png"
    subprocess.run(
        card_page.chromium_argv(page, tmp_path / "profile2", screenshot=shot), capture_output=True, timeout=90
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_a_broken_card_is_reported_not_hidden(tmp_path: Path, modules: Path) -> None:
    good = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "ok"}]}
    broken = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": "x"}],
        "actions": [{"type": "Action.OpenUrl", "title": "no url"}],
    }
    page = card_page.write_page(
        [card_page.CardEntry("good", good), card_page.CardEntry("broken", broken)],
        tmp_path / "index.html",
        modules,
    )
    dom = subprocess.run(
        card_page.chromium_argv(page, tmp_path / "profile"), capture_output=True, text=True, timeout=90
    ).stdout
    status = card_page.read_status(dom)
    assert status is not None and status[0]["ok"] and status[0]["warnings"] == []
    assert status[1]["warnings"], status  # the renderer's validation names the action without a url


def test_without_a_renderer_the_page_still_lists_the_cards(tmp_path: Path) -> None:
    card = {"type": "AdaptiveCard", "version": "1.4", "body": []}
    page = card_page.write_page(
        [card_page.CardEntry("only </pre> here", card)], tmp_path / "index.html", None
    )
    text = page.read_text()
    assert "only &lt;/pre&gt; here" in text and "renderer/" not in text
    assert (
        card_page.ensure_renderer(
            {"PIPEKIT_CARD_RENDERER_DIR": str(tmp_path / "none"), "PATH": "/nonexistent"}
        )
        is None
    )
