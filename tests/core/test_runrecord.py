import json
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.runrecord import RunRecord


def test_missing_record_is_empty(tmp_path: Path):
    rec = RunRecord.load(tmp_path / "run.json")
    assert rec.steps == {}
    assert rec.step("build").get("outputs", {}).get("image") is None


def test_recording_writes_status_duration_outputs(tmp_path: Path):
    path = tmp_path / "x" / "run.json"
    rec = RunRecord.load(path)
    with rec.recording("build") as out:
        out["image"] = "orders:abc1234"
    data = json.loads(path.read_text())
    assert data["version"] == 1
    step = data["steps"]["build"]
    assert step["status"] == "succeeded"
    assert step["outputs"] == {"image": "orders:abc1234"}
    assert step["duration_s"] >= 0 and step["started_at"].endswith("Z")


def test_failed_step_is_recorded_failed(tmp_path: Path):
    rec = RunRecord.load(tmp_path / "run.json")
    with pytest.raises(CheckFailed):
        with rec.recording("scan"):
            raise CheckFailed("blocked")
    assert RunRecord.load(tmp_path / "run.json").step("scan")["status"] == "failed"


def test_save_merges_other_steps_sections(tmp_path: Path):
    path = tmp_path / "run.json"
    a = RunRecord.load(path)
    b = RunRecord.load(path)
    a.update_step("build", status="succeeded", outputs={"image": "i"})
    a.save()
    b.update_step("ecr_push", status="succeeded", outputs={"digest": "sha256:1"})
    b.save()
    final = RunRecord.load(path)
    assert final.step("build").get("outputs", {}).get("image") == "i"
    assert final.step("ecr_push").get("outputs", {}).get("digest") == "sha256:1"
    assert not list(tmp_path.glob(".run.*"))  # no temp files left behind


def test_unreadable_record_names_file(tmp_path: Path):
    path = tmp_path / "run.json"
    path.write_text("{not json")
    with pytest.raises(BadInput) as err:
        RunRecord.load(path)
    assert str(path) in str(err.value)


def test_newer_version_refused(tmp_path: Path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 99, "steps": {}}))
    with pytest.raises(BadInput, match="newer"):
        RunRecord.load(path)


def test_environment_name_precedence(tmp_path: Path, monkeypatch):
    from pipekit.core.step import StepContext

    monkeypatch.chdir(tmp_path)
    ctx = StepContext.create(
        env={"PIPEKIT_ENVIRONMENT": "qa", "PIPEKIT_RUN_RECORD": str(tmp_path / "r.json")}
    )
    assert ctx.environment() == "qa"
    assert ctx.environment("prod") == "prod"
    ctx2 = StepContext.create(env={"PIPEKIT_ENV": "dev", "PIPEKIT_ENVIRONMENT": "qa"})
    assert ctx2.environment() == "dev"
