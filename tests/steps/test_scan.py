"""`pipekit scan`: the gate end to end (policy, suppressions, baseline, outputs, bad input)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import load_schema, run_pipekit

FIX = Path(__file__).parents[1] / "fixtures" / "scan"
SCA = [str(FIX / n) for n in ("trivy.json", "grype.json", "dependency-check.json", "srcclr.json")]


def scan(*args: str) -> Result:
    from pipekit.scan import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def record(tmp_path: Path) -> dict:
    return json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["scan"]


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pipekit.yaml"
    path.write_text(text)
    return str(path)


def validate_sarif(path: Path) -> dict:
    import jsonschema

    doc = json.loads(path.read_text())
    jsonschema.Draft4Validator(load_schema("sarif-2.1.0.schema.json")).validate(doc)
    return doc


def test_blocks_on_high_and_critical_by_default_and_lists_them_first(tmp_path: Path) -> None:
    result = scan(*SCA)
    assert result.exit_code == 1, result.output
    out = result.output
    assert __import__("re").search(r"BLOCKING\s+critical", out)
    assert out.index("BLOCKING") < out.index("allowed")
    assert "trivy+grype+dependency-check+srcclr" in out  # one row for the CVE four tools reported
    assert "security gate blocked" in result.stderr
    summary = record(tmp_path)["outputs"]["summary"]
    assert record(tmp_path)["status"] == "failed"
    assert summary["passed"] is False
    assert summary["tools"] == ["dependency-check", "grype", "srcclr", "trivy"]
    # 10 distinct findings after merging the shared CVE-2019-12384 in jackson-databind
    assert (
        summary["critical"]
        + summary["high"]
        + summary["medium"]
        + summary["low"]
        + summary["info"]
        + summary["suppressed"]
        == summary["total"]
    )
    assert summary["blocking"] == summary["critical"] + summary["high"]


def test_fail_on_threshold_and_json_result(tmp_path: Path) -> None:
    result = scan(str(FIX / "veracode-results.json"), "--fail-on", "critical", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == 1
    assert [b["id"] for b in payload["result"]["blocking"]] == ["CWE-89"]
    ok = scan(str(FIX / "veracode-empty.json"), "--fail-on", "low", "--json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["summary"]["passed"] is True


def test_per_severity_maximum_counts(tmp_path: Path) -> None:
    semgrep = str(FIX / "semgrep.json")  # 2 high, 2 medium, 1 low
    assert scan(semgrep, "--fail-on", "none", "--max", "high=2,medium=2").exit_code == 0
    blocked = scan(semgrep, "--fail-on", "none", "--max", "high=1", "--json")
    assert blocked.exit_code == 1
    assert {b["severity"] for b in json.loads(blocked.stdout)["result"]["blocking"]} == {"high"}
    assert "2 high SAST findings, at most 1 allowed" in blocked.stderr
    # a maximum replaces the threshold for its severity: 2 highs allowed although fail_on is high
    assert scan(semgrep, "--fail-on", "high", "--max", "high=2").exit_code == 0


def test_bad_max_is_usage_error() -> None:
    result = scan(str(FIX / "semgrep.json"), "--max", "severe=1")
    assert result.exit_code == 2
    assert "--max" in result.stderr and "severe=1" in result.stderr


def test_separate_sast_and_sca_policies(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "scan:\n  fail_on: high\n  sca:\n    fail_on: none\n    max: {critical: 5}\n"
        "  sast:\n    fail_on: critical\n",
    )
    # semgrep: high SAST findings but no critical; dependency-check: a critical SCA finding
    reports = [str(FIX / n) for n in ("semgrep.json", "grype.json", "dependency-check.json", "srcclr.json")]
    result = scan("--config", cfg, *reports)
    assert result.exit_code == 0, result.output
    strict = config(tmp_path, "scan:\n  sca:\n    fail_on: none\n  sast:\n    max: {high: 0}\n")
    result = scan("--config", strict, *reports, "--json")
    assert result.exit_code == 1
    assert {b["kind"] for b in json.loads(result.stdout)["result"]["blocking"]} == {"sast"}


def test_suppressions_with_glob_and_expiry(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        """scan:
  fail_on: critical
  suppressions:
    - id: CVE-2022-42889
      path: "org.apache.commons/commons-text@1.*"
      reason: StringSubstitutor is never fed user input (SEC-812)
      expires: "2099-12-31"
    - id: aws-access-key-id
      path: src/main/resources/*.properties
      reason: test key, revoked
      expires: 2020-01-31
    - id: CVE-2020-99990
      path: "other/*"
      reason: glob does not match this package
      expires: 2099-01-01
""",
    )
    result = scan("--config", cfg, str(FIX / "trivy.json"), str(FIX / "dependency-check.json"), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)["result"]
    blocking = {b["id"] for b in payload["blocking"]}
    assert "CVE-2022-42889" not in blocking  # suppressed
    assert "aws-access-key-id" in blocking  # the suppression expired
    assert "CVE-2020-99990" in blocking  # glob did not match
    assert payload["expired_suppressions"] == [
        {"id": "aws-access-key-id", "expires": "2020-01-31", "where": f"{cfg}:8"}
    ]
    assert "suppression aws-access-key-id" in result.stderr and "expired on 2020-01-31" in result.stderr
    assert payload["summary"]["suppressed"] >= 2  # commons-text + dependency-check's own suppression


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [
        (
            "    - id: CVE-1\n      expires: 2099-01-01\n",
            r"pipekit\.yaml:3: scan\.suppressions\.0: 'reason' is a required property",
        ),
        (
            "    - id: CVE-1\n      reason: because\n",
            r"pipekit\.yaml:3: scan\.suppressions\.0: 'expires' is a required property",
        ),
        (
            "    - id: CVE-1\n      reason: because\n      expires: next week\n",
            r"pipekit\.yaml:5: scan\.suppressions\.0: expires 'next week' is not a date",
        ),
        (
            "    - id: CVE-1\n      reason: because\n      expires: 2026-02-30\n",
            r"pipekit\.yaml:5: .*'2026-02-30' is not a date",
        ),
        (
            "    - id: CVE-1\n      reason: ''\n      expires: 2099-01-01\n",
            r"pipekit\.yaml:4: scan\.suppressions\.0\.reason",
        ),
    ],
)
def test_bad_suppressions_exit_2_naming_file_and_line(tmp_path: Path, entry: str, pattern: str) -> None:
    cfg = config(tmp_path, "scan:\n  suppressions:\n" + entry)
    sarif_out = tmp_path / "out.sarif"
    result = scan("--config", cfg, str(FIX / "trivy.json"), "--sarif-out", str(sarif_out))
    assert result.exit_code == 2
    assert __import__("re").search(pattern, result.stderr), result.stderr
    assert not sarif_out.exists()


def test_policy_file_overrides_config_and_is_checked(tmp_path: Path) -> None:
    policy = tmp_path / "security-policy.yml"
    policy.write_text(
        "fail_on: none\nsuppressions:\n  - id: CVE-2022-42889\n    reason: accepted\n"
        "    expires: 2099-01-01\n"
    )
    cfg = config(tmp_path, "scan:\n  fail_on: low\n")
    assert scan("--config", cfg, "--policy", str(policy), str(FIX / "trivy.json")).exit_code == 0
    policy.write_text("scan:\n  suppressions:\n    - id: CVE-2022-42889\n      expires: 2099-01-01\n")
    result = scan("--policy", str(policy), str(FIX / "trivy.json"))
    assert result.exit_code == 2
    assert f"{policy}:3: scan.suppressions.0: 'reason' is a required property" in result.stderr
    policy.write_text("fail_on: severe\n")
    result = scan("--policy", str(policy), str(FIX / "trivy.json"))
    assert result.exit_code == 2 and f"{policy}:1: fail_on:" in result.stderr


def test_baseline_from_an_earlier_report_only_new_findings_fail(tmp_path: Path) -> None:
    earlier = json.loads((FIX / "trivy.json").read_text())
    current = json.loads((FIX / "trivy.json").read_text())
    new_vuln = dict(current["Results"][0]["Vulnerabilities"][1], VulnerabilityID="CVE-2026-00001")
    current["Results"][0]["Vulnerabilities"].append(new_vuln)
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    (tmp_path / "current.json").write_text(json.dumps(current))
    result = scan(str(tmp_path / "current.json"), "--baseline", str(tmp_path / "earlier.json"), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)["result"]
    assert [b["id"] for b in payload["blocking"]] == ["CVE-2026-00001"]
    assert payload["summary"]["baseline_known"] == 5
    assert scan(str(FIX / "trivy.json"), "--baseline", str(tmp_path / "earlier.json")).exit_code == 0


def test_baseline_from_pipekits_own_sarif_survives_line_shifts(tmp_path: Path) -> None:
    out = tmp_path / "first.sarif"
    assert (
        scan(str(FIX / "semgrep.json"), str(FIX / "veracode-results.json"), "--sarif-out", str(out)).exit_code
        == 1
    )
    moved = json.loads((FIX / "semgrep.json").read_text())
    for r in moved["results"]:
        r["start"]["line"] += 7
    (tmp_path / "semgrep-later.json").write_text(json.dumps(moved))
    second = tmp_path / "second.sarif"
    result = scan(
        str(tmp_path / "semgrep-later.json"),
        str(FIX / "veracode-results.json"),
        "--baseline",
        str(out),
        "--sarif-out",
        str(second),
    )
    assert result.exit_code == 0, result.output
    doc = validate_sarif(second)
    states = {r["baselineState"] for run in doc["runs"] for r in run["results"]}
    assert states == {"unchanged"}


def test_merged_sarif_is_valid_with_suppressions_and_properties(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "scan:\n  suppressions:\n    - id: CVE-2022-42889\n      reason: accepted risk\n"
        "      expires: 2099-01-01\n",
    )
    out = tmp_path / "out" / "merged.sarif"
    reports = [*SCA, str(FIX / "semgrep.json"), str(FIX / "codeql.sarif"), str(FIX / "veracode-results.json")]
    result = scan(
        "--config", cfg, *reports, "--sarif-out", str(out), "--baseline", str(FIX / "trivy-empty.json")
    )
    assert result.exit_code == 1
    doc = validate_sarif(out)
    assert doc["version"] == "2.1.0"
    tools = [run["tool"]["driver"]["name"] for run in doc["runs"]]
    assert tools == sorted(tools) and "CodeQL" in tools and "veracode-pipeline-scan" in tools
    results = [r for run in doc["runs"] for r in run["results"]]
    assert all(r["baselineState"] == "new" for r in results)
    suppressed = [r for r in results if r.get("suppressions")]
    justifications = {s["justification"] for r in suppressed for s in r["suppressions"]}
    assert {"accepted risk", "stateless API with token auth"} <= justifications
    for run in doc["runs"]:
        for r in run["results"]:
            assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    jackson = [r for r in results if r["ruleId"] == "CVE-2019-12384"]
    assert len(jackson) == 1 and set(jackson[0]["properties"]["pipekit/alsoReportedBy"]) == {
        "dependency-check",
        "grype",
        "srcclr",
    }


def test_junit_has_one_failing_case_per_blocking_finding(tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "security.xml"
    result = scan(
        str(FIX / "veracode-results.json"), "--fail-on", "medium", "--junit-out", str(junit), "--json"
    )
    assert result.exit_code == 1
    blocking = json.loads(result.stdout)["result"]["blocking"]
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(blocking) == 2
    assert all(c.find("failure") is not None for c in cases)
    assert cases[0].get("name") == "[CRITICAL] CWE-89 com/example/orders/OrderRepository.java:57"
    passed = tmp_path / "passed.xml"
    assert scan(str(FIX / "veracode-empty.json"), "--junit-out", str(passed)).exit_code == 0
    root = ET.parse(passed).getroot()
    assert root.get("failures") == "0" and len(root.findall(".//testcase")) == 1


@pytest.mark.parametrize("bad", ["truncated.json", "wrong-types.json", "unknown.json"])
def test_unreadable_report_exits_2_and_writes_nothing(tmp_path: Path, bad: str) -> None:
    sarif_out, junit_out = tmp_path / "o.sarif", tmp_path / "o.xml"
    result = scan(
        str(FIX / "veracode-empty.json"),
        str(FIX / bad),
        "--sarif-out",
        str(sarif_out),
        "--junit-out",
        str(junit_out),
    )
    assert result.exit_code == 2
    assert bad in result.stderr
    assert not sarif_out.exists() and not junit_out.exists()
    assert record(tmp_path)["status"] == "error"


def test_no_reports_is_bad_input() -> None:
    result = scan()
    assert result.exit_code == 2 and "no reports to gate" in result.stderr


def test_reports_and_outputs_from_config(tmp_path: Path) -> None:
    shutil.copy(FIX / "veracode-results.json", tmp_path / "results.json")
    cfg = config(
        tmp_path,
        f"scan:\n  reports: [{tmp_path / 'results.json'}]\n  fail_on: none\n"
        f"  sarif_out: {tmp_path / 'c.sarif'}\n  junit_out: {tmp_path / 'c.xml'}\n",
    )
    assert scan("--config", cfg).exit_code == 0
    assert (tmp_path / "c.sarif").is_file() and (tmp_path / "c.xml").is_file()


def test_module_entry_point_runs_as_a_pipeline_would(tmp_path: Path) -> None:
    proc = run_pipekit(
        "scan",
        str(FIX / "codeql.sarif"),
        "--fail-on",
        "critical",
        cwd=tmp_path,
        env={"PIPEKIT_RUN_RECORD": str(tmp_path / "rr.json"), "CI": "true"},
    )
    assert proc.returncode == 0, proc.stderr  # the critical one is suppressed in source
    steps = json.loads((tmp_path / "rr.json").read_text())["steps"]
    assert steps["scan"]["outputs"]["summary"]["suppressed"] == 1
    assert steps["scan"]["status"] == "succeeded"


def test_sarif_without_usable_lines_and_absolute_paths_stays_valid(tmp_path: Path) -> None:
    doc = json.loads((FIX / "trivy.json").read_text())
    doc["Results"][3]["Secrets"][0]["StartLine"] = 0
    (tmp_path / "t.json").write_text(json.dumps(doc))
    out = tmp_path / "t.sarif"
    result = scan(
        str(tmp_path / "t.json"),
        str(FIX / "dependency-check.json"),
        "--fail-on",
        "none",
        "--sarif-out",
        str(out),
    )
    assert result.exit_code == 0 and "security gate passed" in result.output
    sarif = validate_sarif(out)
    secret = next(r for run in sarif["runs"] for r in run["results"] if r["ruleId"] == "aws-access-key-id")
    assert "region" not in secret["locations"][0]["physicalLocation"]
