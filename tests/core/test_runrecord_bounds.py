"""The run record stays small whatever the suite did; notify's locks leave no litter (issue 23,
items 11 and 20)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipekit.cards.model import _tests_detail
from pipekit.core.outputs import BuildResult
from pipekit.core.runrecord import RunRecord
from pipekit.reports.junit import model as junit
from pipekit.testing.sink import WebhookSink
from tests.conftest import run_pipekit


def _summary(failures: int) -> junit.TestSummary:
    s = junit.TestSummary()
    for i in range(failures):
        s.add(
            junit.TestCase(
                classname=f"com.acme.Suite{i // 100}",
                name=f"test{i}",
                outcome="failed",
                message="expected <1> but was <2>" * 20,
                time_s=0.001,
            )
        )
    s.add(junit.TestCase(classname="com.acme.Ok", name="passes", outcome="passed", message="", time_s=0.001))
    return s


def test_200k_failures_make_a_small_record_and_a_quick_card(tmp_path: Path) -> None:
    record_path = tmp_path / "run.json"
    record = RunRecord.load(record_path)
    with record.recording(BuildResult.SECTION) as outputs:
        outputs["tests"] = _summary(200_000).to_record()
    size = record_path.stat().st_size
    assert size < 200_000, f"run.json is {size} bytes (was 29 MB)"
    tests = json.loads(record_path.read_text())["steps"]["build"]["outputs"]["tests"]
    assert tests["failed"] == 200_000 and tests["failing_count"] == 200_000 and len(tests["failing"]) <= 50
    assert all(len(f["message"]) <= 500 for f in tests["failing"])

    details: list = []
    _tests_detail(details, "Failing tests", tests["failing"], tests["failing_count"])
    assert details[0].more == 200_000 - len(details[0].lines)

    with WebhookSink() as sink:
        started = time.monotonic()
        proc = run_pipekit(
            "notify",
            "--event",
            "failed",
            "--stage",
            "build",
            "--run-record",
            str(record_path),
            env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")},
            cwd=tmp_path,
        )
        took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert took < 5, f"notify took {took:.1f} s (was 11 s)"
    card = json.dumps(sink.requests[-1].json)
    assert "199,99" in card or "199990" in card or "and 1999" in card


@pytest.mark.slow
def test_notify_leaves_one_lock_file_however_many_notifications(tmp_path: Path) -> None:
    record = tmp_path / ".pipekit" / "run.json"
    with WebhookSink() as sink:
        for stage in ("build", "scan", "ecr-push", "update-tag", "deploy"):
            for event in ("started", "succeeded"):
                proc = run_pipekit(
                    "notify",
                    "--event",
                    event,
                    "--stage",
                    stage,
                    "--run-record",
                    str(record),
                    env={"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")},
                    cwd=tmp_path,
                )
                assert proc.returncode == 0, proc.stderr
        assert len(sink.requests) == 10
    left = sorted(p.name for p in record.parent.iterdir())
    assert [n for n in left if "notify-" in n] == [], left
    assert len([n for n in left if n.endswith(".lock")]) <= 2, left
