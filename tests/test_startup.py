"""Start-up stays lean: what `pipekit notify` imports for --help and for a whole notification.

Timings live in scripts/bench_notify.py; this checks the cause deterministically.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pipekit.testing.sink import WebhookSink
from tests.conftest import REPO_ROOT

HEAVY = {"requests", "urllib3", "rich", "jsonschema", "boto3", "botocore", "yaml", "tenacity"}


def imported(args: list[str], env: dict[str, str], cwd: Path) -> set[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    full.update(env, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "pipekit.notify", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", proc.stderr, re.MULTILINE)
    assert "click" in names
    return {n.strip().split(".")[0] for n in names}


def test_help_imports_nothing_heavy_and_no_http_client(tmp_path: Path) -> None:
    top = imported(["--help"], {}, tmp_path)
    unwanted = HEAVY | {"http", "email", "ssl", "socket", "subprocess"}  # the wire loads only when sending
    assert not top & unwanted, top & unwanted


def test_a_whole_notification_imports_http_client_but_nothing_heavy(tmp_path: Path) -> None:
    with WebhookSink() as sink:
        top = imported(["--event", "started"], {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"),
                                                "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}, tmp_path)
        assert len(sink.requests) == 1
    assert "http" in top  # the standard library's client carries the POST
    assert not top & HEAVY, top & HEAVY
