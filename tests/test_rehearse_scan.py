"""The rehearsal's scan stage: its local semgrep rules, and the gate without semgrep.

The happy path (semgrep run over the sample, its finding in the SARIF) is checked by the
rehearsals in tests/test_rehearse.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from pipekit import rehearse, scan
from pipekit.core import yamlload
from pipekit.core.console import Console
from pipekit.core.step import StepContext
from pipekit.rehearsal import scanning
from pipekit.rehearsal.stages import STAGES
from tests.conftest import REPO_ROOT

FLAGGED = """\
import java.security.MessageDigest;

class Flagged {
    private static final String DB_PASSWORD = "hunter2";
    private final String greeting = "hello";

    void run(String command) throws Exception {
        Runtime.getRuntime().exec(command);
        MessageDigest.getInstance("MD5");
        MessageDigest.getInstance("SHA-256");
        try {
            run(greeting);
        } catch (Exception e) {
            e.printStackTrace();
        }
    }
}
"""


@pytest.mark.slow
def test_the_local_rules_are_valid_semgrep_and_each_flags_what_it_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no pipekit.yaml here: the options below are all
    src = tmp_path / "service" / "src"
    src.mkdir(parents=True)
    (src / "Flagged.java").write_text(FLAGGED)
    ctx = StepContext.create(env={"PATH": os.environ["PATH"]}, run_record=tmp_path / "run.json")
    ctx.console = Console(stream=io.StringIO())
    options = scan.ScanOptions(run_tools=["semgrep"], runners={"semgrep": {"config": str(scanning.RULES)}},
                               fail_on="none", run_dir=str(tmp_path / "reports"), run_cwd=str(tmp_path / "service"))
    result = scan.run(options, ctx)  # semgrep exits 0 or 1 only when it loaded every rule

    raw = json.loads((tmp_path / "reports" / "semgrep-report.json").read_text())
    assert raw["errors"] == []
    found = {(r["check_id"], r["path"], r["start"]["line"], r["extra"]["severity"]) for r in raw["results"]}
    assert found == {("java-hardcoded-credential", "src/Flagged.java", 4, "ERROR"),
                     ("java-runtime-exec", "src/Flagged.java", 8, "ERROR"),
                     ("java-weak-hash", "src/Flagged.java", 9, "WARNING"),
                     ("java-print-stack-trace", "src/Flagged.java", 14, "INFO")}
    rules = yamlload.load(scanning.RULES.read_text(), str(scanning.RULES))["rules"]
    assert sorted(r["id"] for r in rules) == sorted(f[0] for f in found), "every rule is exercised"
    assert all(r["languages"] == ["java"] and r["message"] for r in rules)
    assert scanning.rule_count() == len(rules)
    s = result.summary
    assert (s["high"], s["medium"], s["low"], s["tools"]) == (2, 1, 1, ["semgrep"])


@pytest.mark.slow
def test_without_semgrep_the_gate_runs_on_the_bundled_report_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(only_git))
    monkeypatch.setattr(sys, "executable", str(only_git / "python"))  # no semgrep beside the interpreter either
    ctx = StepContext.create(env={"PATH": str(only_git),
                                  "PIPEKIT_CARD_RENDERER_DIR": str(REPO_ROOT / ".venv" / "card-renderer")},
                             cwd=tmp_path, run_record=tmp_path / "outer.json")
    ctx.console = Console(stream=io.StringIO())
    work = tmp_path / "work"
    stage = next(s for s in STAGES if s.name == "scan")
    result = rehearse.run(rehearse.RehearseOptions(stages=[stage], workdir=work, keep=True, channels=("teams",)), ctx)

    assert [(s.name, s.status) for s in result.stages] == [("scan", "succeeded")]
    assert result.stages[0].detail == ("gate passed: 0 critical, 0 high, 0 medium, 1 low; trivy (bundled report): "
                                       "1 finding; semgrep not found, its local rules did not run")
    out = ctx.console.stream.getvalue()  # type: ignore[attr-defined]
    assert "scan: semgrep not found, so the local rules (semgrep-rules.yaml) do not run" in out
    sarif = json.loads((work / "scan.sarif").read_text())
    assert [run["tool"]["driver"]["name"] for run in sarif["runs"]] == ["trivy"]
    assert not (work / "scan").exists()
