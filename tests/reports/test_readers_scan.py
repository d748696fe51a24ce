"""Scanner report readers: each format from fixtures shaped like the tools' public output."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput
from pipekit.reports import findings as fm
from pipekit.reports.readers import detect, sarif
from pipekit.reports.readers.detect import read_report

FIX = Path(__file__).parents[1] / "fixtures" / "scan"


def by_id(findings: list[fm.Finding]) -> dict[str, fm.Finding]:
    return {f.rule_id: f for f in findings}


@pytest.mark.parametrize(
    ("name", "fmt", "count"),
    [
        ("veracode-results.json", "veracode", 4),
        ("veracode-empty.json", "veracode", 0),
        ("srcclr.json", "srcclr", 3),
        ("trivy.json", "trivy", 5),
        ("trivy-empty.json", "trivy", 0),
        ("grype.json", "grype", 4),
        ("dependency-check.json", "dependency-check", 4),
        ("semgrep.json", "semgrep", 5),
        ("codeql.sarif", "sarif", 6),
    ],
)
def test_detected_by_content(name: str, fmt: str, count: int) -> None:
    report = read_report(FIX / name)
    assert report.format == fmt
    assert len(report.findings) == count
    assert all(f.fingerprint and f.severity in fm.SEVERITIES for f in report.findings)


def test_veracode_severity_scale_cwe_string_and_location() -> None:
    found = by_id(read_report(FIX / "veracode-results.json").findings)
    assert {k: f.severity for k, f in found.items()} == {
        "CWE-89": "critical",
        "CWE-327": "medium",
        "CWE-117": "low",
        "CWE-209": "info",
    }
    sqli = found["CWE-89"]
    assert (sqli.kind, sqli.path, sqli.line, sqli.cwe) == (
        "sast",
        "com/example/orders/OrderRepository.java",
        57,
        "CWE-89",
    )


@pytest.mark.parametrize(
    ("level", "expected"), [(5, "critical"), (4, "high"), (3, "medium"), (2, "low"), (1, "low"), (0, "info")]
)
def test_veracode_every_level(tmp_path: Path, level: int, expected: str) -> None:
    doc = json.loads((FIX / "veracode-results.json").read_text())
    doc["findings"] = doc["findings"][:1]
    doc["findings"][0]["severity"] = level
    (tmp_path / "r.json").write_text(json.dumps(doc))
    assert read_report(tmp_path / "r.json").findings[0].severity == expected


def test_veracode_flaw_match_is_identity_not_line(tmp_path: Path) -> None:
    doc = json.loads((FIX / "veracode-results.json").read_text())
    before = [f.fingerprint for f in read_report(FIX / "veracode-results.json").findings]
    for item in doc["findings"]:
        item["files"]["source_file"]["line"] += 12
    (tmp_path / "moved.json").write_text(json.dumps(doc))
    assert [f.fingerprint for f in read_report(tmp_path / "moved.json").findings] == before
    doc["findings"][0]["flaw_match"]["flaw_hash"] = "1"
    (tmp_path / "changed.json").write_text(json.dumps(doc))
    assert read_report(tmp_path / "changed.json").findings[0].fingerprint != before[0]


def test_srcclr_cvss_cve_prefix_and_link_pointers() -> None:
    found = by_id(read_report(FIX / "srcclr.json").findings)
    jackson = found["CVE-2019-12384"]
    assert (jackson.severity, jackson.package, jackson.version, jackson.fixed_in) == (
        "medium",
        "com.fasterxml.jackson.core/jackson-databind",
        "2.9.8",
        "2.9.9.1",
    )
    text = found["CVE-2022-42889"]  # pointer into .../versions/0
    assert (text.severity, text.package, text.version) == (
        "critical",
        "org.apache.commons/commons-text",
        "1.9",
    )
    no_cve = [f for f in found.values() if f.rule_id.startswith("SRCCLR-")]
    assert len(no_cve) == 1 and no_cve[0].severity == "medium"  # no score: not silently info


def test_srcclr_dangling_pointer_is_bad_input(tmp_path: Path) -> None:
    doc = json.loads((FIX / "srcclr.json").read_text())
    doc["records"][0]["vulnerabilities"][0]["libraries"][0]["_links"]["ref"] = "/records/0/libraries/9"
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(
        BadInput, match=r"s\.json: \$\.records\[0\]\.vulnerabilities\[0\]\.libraries\[0\]\._links\.ref"
    ):
        read_report(tmp_path / "s.json")


def test_trivy_vulns_misconfig_secrets_and_omitted_fields() -> None:
    found = by_id(read_report(FIX / "trivy.json").findings)
    assert found["CVE-2022-42889"].severity == "critical"
    assert found["CVE-2022-42889"].purl == "pkg:maven/org.apache.commons/commons-text@1.9"
    assert found["CVE-2026-99999"].severity == "medium"  # UNKNOWN
    assert found["CVE-2026-99999"].fixed_in is None  # FixedVersion omitted
    assert found["AVD-DS-0002"].kind == "sast" and found["AVD-DS-0002"].path == "Dockerfile"
    assert "AVD-DS-0026" not in found  # status PASS
    assert found["aws-access-key-id"].line == 12


def test_grype_ghsa_becomes_cve_and_ignored_matches_are_tool_suppressed() -> None:
    found = read_report(FIX / "grype.json").findings
    jackson = next(f for f in found if f.package == "com.fasterxml.jackson.core/jackson-databind")
    assert jackson.rule_id == "CVE-2019-12384" and "GHSA-mph4-vhrx-mv67" in jackson.aliases
    assert jackson.severity == "high" and jackson.fixed_in == "2.9.9.1"
    severities = {f.rule_id: f.severity for f in found}
    assert severities["CVE-2023-2976"] == "low" and severities["CVE-2026-11111"] == "medium"
    ignored = next(f for f in found if f.rule_id == "CVE-2020-8908")
    assert ignored.tool_suppression and ignored.suppressed


def test_dependency_check_severity_strings_scores_and_suppressed() -> None:
    found = by_id(read_report(FIX / "dependency-check.json").findings)
    assert found["CVE-2020-36518"].severity == "medium"  # MODERATE
    assert found["CVE-2020-99990"].severity == "critical"  # no severity: CVSS v3 9.1
    assert found["CVE-2019-14540"].suppressed
    assert found["CVE-2019-12384"].version == "2.9.8" and found["CVE-2019-12384"].cwe == "CWE-502"


def test_semgrep_severities_and_own_fingerprint() -> None:
    found = read_report(FIX / "semgrep.json").findings
    sev = {(f.rule_id.rsplit(".", 1)[-1], f.line): f.severity for f in found}
    assert sev[("use-of-md5", 21)] == "medium" and sev[("formatted-sql-string", 57)] == "high"
    assert (
        sev[("spring-actuator-dangerous-endpoints", 3)] == "low" and sev[("experimental-rule", 5)] == "medium"
    )
    sql = [f for f in found if f.rule_id.endswith("formatted-sql-string")]
    assert len({f.fingerprint for f in sql}) == 2  # same rule, file, message: told apart by ordinal
    assert all("requires login" not in f.fingerprint for f in found)


def test_semgrep_fingerprints_survive_line_shifts(tmp_path: Path) -> None:
    doc = json.loads((FIX / "semgrep.json").read_text())
    before = sorted(f.fingerprint for f in read_report(FIX / "semgrep.json").findings)
    moved = copy.deepcopy(doc)
    for r in moved["results"]:
        r["start"]["line"] += 30
        r["end"]["line"] += 30
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    assert sorted(f.fingerprint for f in read_report(tmp_path / "moved.json").findings) == before


@pytest.mark.parametrize(
    ("level", "rule_score", "result_score", "expected"),
    [
        ("error", None, None, "high"),
        ("warning", None, None, "medium"),
        ("note", None, None, "low"),
        ("none", None, None, "info"),
        (None, None, None, "medium"),
        ("note", "9.0", None, "critical"),
        ("error", "6.9", None, "medium"),
        ("note", "7.0", None, "high"),
        ("error", "0.1", None, "low"),
        ("note", "2.0", "9.5", "critical"),
    ],
)
def test_sarif_severity_rules(
    tmp_path: Path, level: str | None, rule_score: str | None, result_score: str | None, expected: str
) -> None:
    rule: dict = {"id": "r1"}
    if rule_score:
        rule["properties"] = {"security-severity": rule_score}
    result: dict = {"ruleId": "r1", "message": {"text": "m"}}
    if level:
        result["level"] = level
    if result_score:
        result["properties"] = {"security-severity": result_score}
    doc = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t", "rules": [rule]}}, "results": [result]}],
    }
    (tmp_path / "x.sarif").write_text(json.dumps(doc))
    assert read_report(tmp_path / "x.sarif").findings[0].severity == expected


def test_sarif_rule_defaults_index_suppressions() -> None:
    found = read_report(FIX / "codeql.sarif").findings
    assert [f.severity for f in found] == ["high", "high", "medium", "medium", "critical", "low"]
    assert found[3].rule_id == "java/unused-parameter"  # from ruleIndex only
    assert found[4].tool_suppression == "stateless API with token auth"
    assert found[0].tool == "CodeQL" and found[0].line == 57


def test_sarif_partial_fingerprints_anchor_identity(tmp_path: Path) -> None:
    doc = json.loads((FIX / "codeql.sarif").read_text())
    before = [f.fingerprint for f in read_report(FIX / "codeql.sarif").findings]
    for r in doc["runs"][0]["results"]:
        r["locations"][0]["physicalLocation"]["region"]["startLine"] += 5
    (tmp_path / "moved.sarif").write_text(json.dumps(doc))
    assert [f.fingerprint for f in read_report(tmp_path / "moved.sarif").findings] == before


def test_duplicates_across_tools_share_a_fingerprint() -> None:
    reports = [
        read_report(FIX / n).findings
        for n in ("trivy.json", "grype.json", "dependency-check.json", "srcclr.json")
    ]
    fps = [next(f.fingerprint for f in r if f.rule_id == "CVE-2019-12384") for r in reports]
    assert len(set(fps)) == 1
    merged = fm.merge(f for r in reports for f in r)
    jackson = [f for f in merged if f.rule_id == "CVE-2019-12384"]
    assert len(jackson) == 1
    assert jackson[0].severity == "high"  # the most severe of medium (trivy/dc/srcclr) and high (grype)
    assert set(jackson[0].also_reported_by) == {"grype", "dependency-check", "srcclr"}


def test_merge_keeps_finding_unsuppressed_when_another_tool_reports_it() -> None:
    a = fm.new("grype", fm.SCA, "CVE-1", "high", "t", package="p", version="1")
    a.fingerprint, a.tool_suppression = "fp", "ignored"
    b = fm.new("trivy", fm.SCA, "CVE-1", "high", "t", package="p", version="1")
    b.fingerprint = "fp"
    assert fm.merge([a, b])[0].tool_suppression is None


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", r"empty file"),
        (b'{"SchemaVersion": 2, "Results": [', r"t\.json:1:\d+: not valid JSON"),
        (b"[1, 2]", r"unknown report format \(top level: a JSON list\)"),
        (
            b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, '
            b'"results": [{"ruleId": 5}]}]}',
            r"\$\.runs\[0\]\.results\[0\]\.ruleId: expected a string",
        ),
        (
            b'{"version": "2.1.0", "runs": [{"results": [{"ruleId": "a", "locations": [{"physicalLocation": '
            b'{"region": {"startLine": "7"}}}]}]}]}',
            r"startLine: expected an integer",
        ),
        (b'{"version": "2.0.0", "runs": []}', r"\$\.version: SARIF '2\.0\.0' is not supported"),
        (
            b'{"scan_status": "SUCCESS", "findings": [{"severity": "high"}]}',
            r"\$\.findings\[0\]\.severity: expected an integer",
        ),
        (
            b'{"scan_status": "SUCCESS", "findings": [{"severity": 9}]}',
            r"\$\.findings\[0\]\.severity: expected 0-5",
        ),
        (
            b'{"matches": [{"vulnerability": [], "artifact": {}}], "descriptor": {}}',
            r"\$\.matches\[0\]\.vulnerability: expected an object",
        ),
    ],
)
def test_bad_reports_name_file_place_and_reason(tmp_path: Path, content: bytes, pattern: str) -> None:
    (tmp_path / "t.json").write_bytes(content)
    with pytest.raises(BadInput, match=pattern) as err:
        read_report(tmp_path / "t.json")
    assert str(tmp_path / "t.json") in str(err.value)


def test_missing_report_and_unknown_format_flag(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot read report"):
        read_report(tmp_path / "nope.json")
    with pytest.raises(BadInput, match="--format 'xml' is not known"):
        read_report(FIX / "trivy.json", "xml")


def test_forced_format_must_match_the_content() -> None:
    assert read_report(FIX / "trivy.json", "trivy").format == "trivy"
    with pytest.raises(BadInput, match=r"trivy\.json: does not look like a grype report"):
        read_report(FIX / "trivy.json", "grype")


def _gen_sarif(path: Path, results: int) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_sarif", Path(__file__).parents[2] / "scripts" / "gen_sarif.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write(path, results, 3)


def test_big_sarif_streams_to_the_same_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.sarif"
    _gen_sarif(path, 300)
    whole = read_report(path).findings
    calls: list[Path] = []
    real_stream = sarif.stream
    monkeypatch.setattr(sarif, "STREAM_FROM_BYTES", 1000)
    monkeypatch.setattr(sarif, "stream", lambda p: calls.append(p) or real_stream(p))
    streamed = read_report(path).findings
    assert calls == [path]
    assert [(f.rule_id, f.severity, f.path, f.line, f.fingerprint) for f in streamed] == [
        (f.rule_id, f.severity, f.path, f.line, f.fingerprint) for f in whole
    ]
    assert len(streamed) == 300


def test_big_truncated_sarif_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.sarif"
    _gen_sarif(path, 200)
    path.write_bytes(path.read_bytes()[:-5000])
    monkeypatch.setattr(sarif, "STREAM_FROM_BYTES", 1000)
    with pytest.raises(BadInput, match=r"big\.sarif: not valid JSON"):
        read_report(path)


def test_multi_run_big_sarif_is_not_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif, "STREAM_FROM_BYTES", 10)
    monkeypatch.setattr(sarif, "stream", lambda p: pytest.fail("a two-run file must not be streamed"))
    found = read_report(FIX / "codeql.sarif").findings
    assert len(found) == 6 and sarif.count_drivers(FIX / "codeql.sarif") == 2


def test_registry_names() -> None:
    assert set(detect.FORMATS) == {
        "sarif",
        "veracode",
        "srcclr",
        "trivy",
        "grype",
        "dependency-check",
        "semgrep",
        "bandit",
    }


def test_tool_errors_are_kept_as_notes(tmp_path: Path) -> None:
    doc = json.loads((FIX / "semgrep.json").read_text())
    doc["errors"] = [
        {
            "code": 3,
            "level": "warn",
            "type": "Syntax error",
            "message": "Syntax error at line 3",
            "path": "src/main/java/Broken.java",
        }
    ]
    (tmp_path / "s.json").write_text(json.dumps(doc))
    report = read_report(tmp_path / "s.json")
    assert report.notes == ["semgrep reported an error in src/main/java/Broken.java: Syntax error at line 3"]
    assert read_report(FIX / "semgrep.json").notes == []


def test_sarif_passing_and_absent_results_are_not_findings(tmp_path: Path) -> None:
    results = [
        {"ruleId": "a", "kind": "pass", "message": {"text": "ok"}},
        {"ruleId": "b", "kind": "notApplicable", "message": {"text": "n/a"}},
        {"ruleId": "c", "baselineState": "absent", "level": "error", "message": {"text": "gone"}},
        {"ruleId": "d", "kind": "review", "message": {"text": "look at it"}},
    ]
    doc = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": results}]}
    (tmp_path / "k.sarif").write_text(json.dumps(doc))
    assert [f.rule_id for f in read_report(tmp_path / "k.sarif").findings] == ["d"]


def test_pipekit_sarif_round_trips_every_format(tmp_path: Path) -> None:
    from pipekit.reports.writers import sarif as sarif_writer

    names = [
        "veracode-results.json",
        "srcclr.json",
        "trivy.json",
        "grype.json",
        "dependency-check.json",
        "semgrep.json",
        "codeql.sarif",
    ]
    found = fm.merge(f for n in names for f in read_report(FIX / n).findings)
    sarif_writer.write(tmp_path / "all.sarif", found)
    back = read_report(tmp_path / "all.sarif").findings

    def key(f: fm.Finding) -> tuple:
        return (
            f.fingerprint,
            f.tool,
            f.kind,
            f.rule_id,
            f.severity,
            f.package,
            f.version,
            f.path,
            f.line,
            f.fixed_in,
            f.suppressed,
        )

    assert sorted(map(key, back)) == sorted(map(key, found))
