"""What the rehearsal's scans read: its local semgrep rules, and a scanner's report substituted.

The pipeline's SAST step runs semgrep with these rules (``PIPEKIT_SEMGREP_CONFIG``); its SCA step
gates the bundled Trivy report instead of running trivy (``PIPEKIT_SCAN_SUBSTITUTE``), as the
rehearsals in tests/steps/test_rehearse.py show end to end.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from pipekit import scan
from pipekit.core import yamlload
from pipekit.core.console import Console
from pipekit.core.errors import BadInput
from pipekit.core.step import StepContext
from pipekit.rehearsal import onboard

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


def test_the_local_rules_are_valid_semgrep_and_each_flags_what_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no pipekit.yaml here: the options below are all
    src = tmp_path / "service" / "src"
    src.mkdir(parents=True)
    (src / "Flagged.java").write_text(FLAGGED)
    ctx = StepContext.create(env={"PATH": os.environ["PATH"]}, run_record=tmp_path / "run.json")
    ctx.console = Console(stream=io.StringIO())
    options = scan.ScanOptions(
        run_tools=["semgrep"],
        runners={"semgrep": {"config": str(onboard.RULES)}},
        fail_on="none",
        run_dir=str(tmp_path / "reports"),
        run_cwd=str(tmp_path / "service"),
    )
    result = scan.run(options, ctx)  # semgrep exits 0 or 1 only when it loaded every rule

    raw = json.loads((tmp_path / "reports" / "semgrep-report.json").read_text())
    assert raw["errors"] == []
    found = {(r["check_id"], r["path"], r["start"]["line"], r["extra"]["severity"]) for r in raw["results"]}
    assert found == {
        ("java-hardcoded-credential", "src/Flagged.java", 4, "ERROR"),
        ("java-runtime-exec", "src/Flagged.java", 8, "ERROR"),
        ("java-weak-hash", "src/Flagged.java", 9, "WARNING"),
        ("java-print-stack-trace", "src/Flagged.java", 14, "INFO"),
    }
    rules = yamlload.load(onboard.RULES.read_text(), str(onboard.RULES))["rules"]
    assert sorted(r["id"] for r in rules) == sorted(f[0] for f in found), "every rule is exercised"
    assert all(r["languages"] == ["java"] and r["message"] for r in rules)
    s = result.summary
    assert (s["high"], s["medium"], s["low"], s["tools"]) == (2, 1, 1, ["semgrep"])


def test_a_substituted_scanner_is_not_run_its_report_is_gated_and_it_says_so(tmp_path: Path) -> None:
    ctx = StepContext.create(
        env={"PATH": "/nonexistent"},
        run_record=tmp_path / "run.json",  # no trivy anywhere
        cwd=tmp_path,
    )
    ctx.console = Console(stream=io.StringIO())
    flags = {"run_tools": ["trivy"], "fail_on": "none"}
    with pytest.raises(BadInput, match="--run trivy: trivy is not installed"):
        scan.run(scan.options_from(ctx, flags), ctx)
    ctx.env["PIPEKIT_SCAN_SUBSTITUTE"] = f"trivy={onboard.SCAN_REPORT}"
    result = scan.run(scan.options_from(ctx, flags), ctx)
    assert result.reports == [
        {"path": str(onboard.SCAN_REPORT), "format": "trivy", "findings": 1, "substituted_for": "trivy"}
    ]
    assert (
        f"--run trivy: not run; its report is substituted by {onboard.SCAN_REPORT} (PIPEKIT_SCAN_SUBSTITUTE)"
        in ctx.console.stream.getvalue()
    )  # type: ignore[attr-defined]
    for bad in ("trivy", "nmap=report.json", "trivy="):
        ctx.env["PIPEKIT_SCAN_SUBSTITUTE"] = bad
        with pytest.raises(BadInput, match="PIPEKIT_SCAN_SUBSTITUTE"):
            scan.options_from(ctx, flags)
    ctx.env["PIPEKIT_SCAN_SUBSTITUTE"] = "trivy=missing.json"
    with pytest.raises(BadInput, match="trivy=missing.json: no such report file"):
        scan.run(scan.options_from(ctx, flags), ctx)
