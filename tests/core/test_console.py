"""The console prints texts from reports and commits as text, never as Rich markup (on a terminal too)."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.core.console import Console
from tests.conftest import REPO_ROOT

HOSTILE = ["rule[/]x", "[bold]not bold[/bold]", "[link=http://x]y", "a\\[b]", "tail\\", ":smile:"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fancy(monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    console = Console(stream=_Tty())
    assert console.fancy
    return console


def test_markup_in_texts_and_table_cells_is_printed_as_text(fancy: Console) -> None:
    for text in HOSTILE:
        fancy.info(text)
        fancy.warn(text)
    fancy.table(["rule[/]h", "b"], [[t, t] for t in HOSTILE], title="[/]title")
    out = fancy.stream.getvalue()  # type: ignore[attr-defined]
    for text in HOSTILE:
        assert text in out


def test_scan_on_a_terminal_prints_a_finding_with_markup_in_its_rule_id(tmp_path: Path) -> None:
    report = tmp_path / "semgrep.json"
    report.write_text(
        json.dumps(
            {
                "version": "1.141.0",
                "errors": [],
                "results": [
                    {
                        "check_id": "rule[/]x",
                        "path": "src/A[/]b.java",
                        "start": {"line": 1, "col": 1},
                        "end": {"line": 1, "col": 2},
                        "extra": {"message": "[bold]msg[/", "severity": "ERROR", "metadata": {}},
                    }
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update(
        TERM="xterm", COLUMNS="200", PYTHONPATH=str(REPO_ROOT), PIPEKIT_RUN_RECORD=str(tmp_path / "run.json")
    )
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipekit", "scan", str(report)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(30)
    os.close(leader)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert "MarkupError" not in out
    assert code == 1, out
    assert "rule[/]x" in out
