"""`pipekit scan --run TOOL`: real semgrep and bandit runs, and each tool's exit-code rules."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipekit.reports.readers.detect import read_report

FIX = Path(__file__).parents[1] / "fixtures" / "scan"
VENV_BIN = Path(sys.executable).parent


def scan(*args: str) -> Result:
    from pipekit.scan import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def semgrep_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One real semgrep run (offline, local rules) over the sample Java source, through `pipekit scan`."""
    if not (VENV_BIN / "semgrep").exists() and not shutil.which("semgrep"):
        pytest.fail("semgrep is a test dependency (pip install semgrep)")
    work = tmp_path_factory.mktemp("semgrep")
    shutil.copytree(FIX / "java", work / "java")
    shutil.copy(FIX / "rules.yml", work / "rules.yml")
    (work / "pipekit.yaml").write_text(
        "scan:\n  run:\n    semgrep:\n      config: rules.yml\n      target: java\n"
    )
    cwd = os.getcwd()
    os.chdir(work)
    env = {"PIPEKIT_RUN_RECORD": str(work / "run.json")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = scan("--run", "semgrep", "--sarif-out", "out.sarif", "--json")
    finally:
        os.chdir(cwd)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"result": result, "work": work}


@pytest.mark.slow
def test_semgrep_runs_offline_and_is_gated(semgrep_run: dict) -> None:
    result, work = semgrep_run["result"], semgrep_run["work"]
    assert result.exit_code == 1, result.stderr  # the ERROR rule (MD5) blocks at the default threshold
    payload = json.loads(result.stdout)["result"]
    assert payload["summary"]["tools"] == ["semgrep"]
    assert payload["summary"]["high"] == 1 and payload["summary"]["medium"] == 1
    assert [b["id"] for b in payload["blocking"]] == ["java-weak-hash-md5"]
    report = work / ".pipekit" / "scan" / "semgrep-report.json"
    assert report.is_file()
    raw = json.loads(report.read_text())
    assert {r["check_id"] for r in raw["results"]} == {"java-weak-hash-md5", "java-sql-concat"}


def test_semgrep_real_report_reads_with_own_fingerprints(semgrep_run: dict) -> None:
    report = semgrep_run["work"] / ".pipekit" / "scan" / "semgrep-report.json"
    found = read_report(report).findings
    md5 = next(f for f in found if f.rule_id == "java-weak-hash-md5")
    assert (md5.severity, md5.line, md5.cwe) == ("high", 9, "CWE-328")
    assert md5.path is not None and md5.path.endswith("Checksums.java")
    assert all(len(f.fingerprint) == 32 for f in found)


def _write_app(dir_: Path, shift: int = 0) -> None:
    dir_.mkdir(exist_ok=True)
    (dir_ / "app.py").write_text("# padding\n" * shift + (FIX / "python" / "app.py").read_text())


@pytest.mark.slow
def test_bandit_real_output_gated_and_stable_across_line_shifts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_app(tmp_path / "src")
    (tmp_path / "pipekit.yaml").write_text("scan:\n  run:\n    bandit:\n      target: src\n")
    first = scan("--run", "bandit", "--sarif-out", "first.sarif", "--json")
    assert first.exit_code == 1, first.stderr
    payload = json.loads(first.stdout)["result"]
    assert sorted(b["id"] for b in payload["blocking"]) == ["B324", "B602"]
    assert payload["summary"]["low"] == 1  # B404 import subprocess
    _write_app(tmp_path / "src", shift=4)
    second = scan("--run", "bandit", "--baseline", "first.sarif", "--json")
    assert second.exit_code == 0, second.stdout
    assert json.loads(second.stdout)["summary"]["baseline_known"] == 3


FAKE_TOOL = """#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
with open({log!r}, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv, \
"secret_env": os.environ.get("VERACODE_API_KEY_SECRET")}}) + "\\n")
def after(flag):
    for a in args:
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return args[args.index(flag) + 1]
out = after({out_flag!r})
shutil.copy({fixture!r}, out)
sys.exit({code})
"""


def fake_tool(bin_dir: Path, name: str, fixture: str, out_flag: str, code: int) -> Path:
    bin_dir.mkdir(exist_ok=True)
    log = bin_dir / f"{name}.log"
    path = bin_dir / name
    path.write_text(
        FAKE_TOOL.format(
            python=sys.executable, log=str(log), out_flag=out_flag, fixture=str(FIX / fixture), code=code
        )
    )
    path.chmod(0o755)
    return log


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return d


@pytest.mark.parametrize(
    ("tool", "binary", "fixture", "flag", "code", "expected"),
    [
        ("trivy", "trivy", "trivy.json", "--output", 0, 1),  # findings, trivy exits 0: the gate decides
        ("trivy", "trivy", "trivy.json", "--output", 1, 3),  # anything else from trivy is an error
        ("grype", "grype", "grype.json", "--file", 2, 1),  # --fail-on hit: still a report to gate
        ("grype", "grype", "grype.json", "--file", 1, 3),
        ("srcclr", "srcclr", "srcclr.json", "--json", 0, 1),
        ("srcclr", "srcclr", "srcclr.json", "--json", 1, 3),
    ],
)
def test_exit_code_rules(
    bin_dir: Path, tool: str, binary: str, fixture: str, flag: str, code: int, expected: int
) -> None:
    fake_tool(bin_dir, binary, fixture, flag, code)
    result = scan("--run", tool)
    assert result.exit_code == expected, result.stderr
    if expected == 3:
        assert f"--run {tool}: exited {code}" in result.stderr


@pytest.mark.parametrize(("code", "expected"), [(0, 1), (3, 1), (200, 1), (201, 3), (255, 3)])
def test_veracode_exit_code_is_a_flaw_count_and_secrets_stay_in_env(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, expected: int
) -> None:
    log = fake_tool(bin_dir, "java", "veracode-results.json", "--json_output_file", code)
    (tmp_path / "pipeline-scan.jar").write_bytes(b"PK")
    (tmp_path / "app.jar").write_bytes(b"PK")
    (tmp_path / "pipekit.yaml").write_text(
        "scan:\n  run:\n    veracode:\n      jar: pipeline-scan.jar\n      target: app.jar\n"
    )
    secret = "vc-secret-0123456789"
    monkeypatch.setenv("VERACODE_API_KEY_SECRET", secret)
    result = scan("--run", "veracode")
    assert result.exit_code == expected, result.stderr
    call = json.loads(log.read_text().splitlines()[0])
    assert secret not in " ".join(call["argv"]) and call["secret_env"] == secret
    assert call["argv"][1:3] == ["-jar", "pipeline-scan.jar"]


def test_unknown_or_missing_tool_is_bad_input(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = scan("--run", "nessus")
    assert result.exit_code == 2 and "--run 'nessus' is not known" in result.stderr
    monkeypatch.setenv("PATH", str(bin_dir))
    result = scan("--run", "trivy")
    assert result.exit_code == 2 and "trivy is not installed" in result.stderr
    result = scan("--run", "semgrep")
    assert result.exit_code == 2 and "local rules file" in result.stderr
