"""Concurrent pipekit processes sharing one run record: nothing lost or reverted, notify posts once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.core.runrecord import RunRecord
from pipekit.testing.sink import Answer, WebhookSink
from tests.conftest import REPO_ROOT
from tests.steps.test_notify import BITBUCKET, FAST


def start_notify(tmp_path: Path, record: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    env.update(
        BITBUCKET,
        **FAST,
        PIPEKIT_RUN_RECORD=str(record),
        PIPEKIT_TEAMS_WEBHOOK_URL=url,
        PYTHONPATH=str(REPO_ROOT),
    )
    env["PIPEKIT_NOTIFY_TIMEOUT"] = "10"
    return subprocess.Popen(
        [sys.executable, "-m", "pipekit.notify", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err


@pytest.mark.slow
def test_four_notify_runs_for_the_same_stage_at_once_post_once(tmp_path: Path) -> None:
    record = tmp_path / ".pipekit" / "run.json"
    with WebhookSink() as sink:
        sink.answer_next(*[Answer(202, delay=0.5) for _ in range(4)])  # slow posts: the runs overlap
        procs = [
            start_notify(tmp_path, record, sink.url("teams"), "--event", "started", "--stage", "build")
            for _ in range(4)
        ]
        finish(procs)
        assert len(sink.requests) == 1
    sent = json.loads(record.read_text())["steps"]["notify"]["outputs"]["sent"]
    assert len(sent) == 1


@pytest.mark.slow
def test_two_stages_at_once_lose_no_sent_mark(tmp_path: Path) -> None:
    record = tmp_path / ".pipekit" / "run.json"
    with WebhookSink() as sink:
        stages = ["build", "scan", "push", "deploy"]
        procs = [
            start_notify(tmp_path, record, sink.url("teams"), "--event", "started", "--stage", s)
            for s in stages
        ]
        finish(procs)
        assert len(sink.requests) == 4
    sent = json.loads(record.read_text())["steps"]["notify"]["outputs"]["sent"]
    assert len(sent) == 4 and all(any(f"@{s}" in k or s in k for k in sent) for s in stages), sent


def test_a_notify_started_before_update_tag_finished_does_not_revert_its_revision(tmp_path: Path) -> None:
    record = tmp_path / ".pipekit" / "run.json"
    stale = RunRecord.load(record)
    stale.update_step("update_tag", status="succeeded", outputs={"gitops_revision": "old"})
    stale.save()
    notifier = RunRecord.load(record)  # a notify process has read the record ...
    assert notifier.step("update_tag").get("outputs", {}).get("gitops_revision") == "old"
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from pipekit.core.runrecord import RunRecord; import sys\n"
                "r = RunRecord.load(sys.argv[1]); r.update_step('update_tag', status='succeeded',"
                " outputs={'gitops_revision': 'new'}); r.save()"
            ),
            str(record),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=True,
        timeout=30,
    )
    assert writer.returncode == 0
    with notifier.recording("notify") as outputs:  # ... and saves after update-tag did
        outputs["last"] = {"key": "k"}
    data = json.loads(record.read_text())
    assert data["steps"]["update_tag"]["outputs"]["gitops_revision"] == "new"
    assert data["steps"]["notify"]["outputs"]["last"] == {"key": "k"}
