"""post-sync-test checks its upload target before anything runs and never loses a verdict to it
(issue 23, item 13)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipekit.clients.s3 import S3Location
from pipekit.core.errors import BadInput
from tests.conftest import run_pipekit

PASSING = (
    "R = {results!r}\nimport os; os.makedirs(R, exist_ok=True)\n"
    "open(R + '/r.xml', 'w').write('<testsuite name=\"s\" tests=\"1\"><testcase name=\"a\"/></testsuite>')\n"
)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://Bad_Bucket!!/x",
        "s3://ab/x",
        "s3://-bucket/x",
        "s3://bucket..name/x",
        "s3://" + "b" * 64 + "/x",
        "s3://192.168.1.1/x",
    ],
)
def test_a_bucket_name_s3_refuses_is_bad_input(uri: str) -> None:
    with pytest.raises(BadInput, match="bucket"):
        S3Location.parse(uri)


def test_valid_bucket_names_pass() -> None:
    for uri in ("s3://test-results/post-sync", "s3://acme.results/x/y/", "s3://a1b"):
        S3Location.parse(uri)


def test_a_bad_upload_target_is_exit_2_before_the_suite_runs(tmp_path: Path) -> None:
    started = tmp_path / "started"
    code = f"open({str(started)!r}, 'w').close()\n" + PASSING.format(results=str(tmp_path / "results"))
    proc = run_pipekit(
        "post-sync-test",
        "--junit-dir",
        str(tmp_path / "results"),
        "--upload",
        "s3://Bad_Bucket!!/x",
        "--",
        sys.executable,
        "-c",
        code,
        cwd=tmp_path,
        env={
            "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "example-secret-key",
            "AWS_DEFAULT_REGION": "eu-west-1",
        },
    )
    assert proc.returncode == 2, proc.stderr
    assert "Bad_Bucket!!" in proc.stderr and not started.exists()


def test_an_upload_that_fails_unexpectedly_keeps_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload breaks in a way nobody foresaw: the tests' verdict stands,
    in the result and the run record."""
    from pipekit import post_sync_test
    from pipekit.core.step import StepContext
    from pipekit.reports import publish

    def broken(*_args: object, **_kw: object) -> tuple[str, str]:
        raise RuntimeError("botocore changed its mind")

    monkeypatch.setattr(publish, "upload", broken)
    monkeypatch.chdir(tmp_path)
    record = tmp_path / "run.json"
    ctx = StepContext.create(run_record=record, env={"PATH": "/usr/bin:/bin"})
    options = post_sync_test.PostSyncTestOptions(
        command=[sys.executable, "-c", PASSING.format(results=str(tmp_path / "results"))],
        junit_dir=tmp_path / "results",
        upload="s3://test-results/x",
    )
    result = post_sync_test.run(options, ctx)
    assert (
        result.result == "passed"
        and "upload failed: RuntimeError: botocore changed its mind" in result.message
    )
    section = json.loads(record.read_text())["steps"]["post_sync_test"]
    assert section["status"] == "succeeded" and section["outputs"]["result"] == "passed"
