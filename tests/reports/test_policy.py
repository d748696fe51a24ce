"""The gate's policy as a library: thresholds, maximum counts, suppression matching, expiry, baseline."""

from __future__ import annotations

from datetime import date

import pytest

from pipekit.core.errors import BadInput
from pipekit.reports import findings as fm
from pipekit.reports.policy import Policy, Suppression, apply, parse_max

TODAY = date(2026, 11, 26)


def sca(vid: str, sev: str, pkg: str = "com.example/lib", version: str = "1.0", **kw: object) -> fm.Finding:
    f = fm.new(
        "trivy", fm.SCA, vid, sev, vid, package=pkg, version=version, purl=f"pkg:maven/{pkg}@{version}", **kw
    )
    f.fingerprint = fm.sca_fingerprint(vid, pkg, version)
    return f


def sast(rule: str, sev: str, path: str = "src/A.java", line: int = 3, cwe: str | None = None) -> fm.Finding:
    f = fm.new("semgrep", fm.SAST, rule, sev, rule, path=path, line=line, cwe=cwe)
    fm.assign_sast_fingerprints([(f, rule)])
    return f


def sup(id_: str, expires: date = date(2099, 1, 1), glob: str | None = None) -> Suppression:
    return Suppression(id=id_, reason="because", expires=expires, glob=glob, where="policy.yml:1")


def test_threshold_blocks_at_and_above() -> None:
    found = [sca("CVE-1", "critical"), sca("CVE-2", "high"), sca("CVE-3", "medium")]
    verdict = apply(found, Policy(fail_on="high"), today=TODAY)
    assert [f.rule_id for f in verdict.blocking] == ["CVE-1", "CVE-2"] and not verdict.passed
    assert apply(found, Policy(fail_on=None), today=TODAY).passed


def test_max_counts_are_per_kind() -> None:
    found = [sca("CVE-1", "medium"), sca("CVE-2", "medium"), sast("r1", "medium")]
    verdict = apply(found, Policy(fail_on=None, max={"medium": 1}), today=TODAY)
    assert {f.rule_id for f in verdict.blocking} == {"CVE-1", "CVE-2"}  # 2 SCA > 1; 1 SAST is fine
    assert verdict.reasons == ["2 medium SCA findings, at most 1 allowed"]


def test_kind_policies_override_the_top_level() -> None:
    found = [sca("CVE-1", "high"), sast("r1", "high")]
    policy = Policy(fail_on="high", sca={"fail_on": "critical"}, sast={"max": {"high": 0}})
    verdict = apply(found, policy, today=TODAY)
    assert [f.kind for f in verdict.blocking] == ["sast"]


@pytest.mark.parametrize("ident", ["CVE-9", "cve-9", "GHSA-xxxx-yyyy-zzzz", "CWE-502"])
def test_suppression_matches_id_aliases_and_cwe(ident: str) -> None:
    f = sca("CVE-9", "critical", aliases=("GHSA-xxxx-yyyy-zzzz",), cwe="CWE-502")
    verdict = apply([f], Policy(suppressions=[sup(ident)]), today=TODAY)
    assert verdict.passed and verdict.suppressed == 1 and f.suppressed_by == "because"


def test_suppression_by_fingerprint_and_globs() -> None:
    a, b = sast("r1", "high", path="src/gen/A.java"), sast("r1", "high", path="src/main/B.java")
    verdict = apply([a, b], Policy(suppressions=[sup("r1", glob="src/gen/*")]), today=TODAY)
    assert verdict.blocking == [b]
    c = sast("r2", "high")
    assert apply([c], Policy(suppressions=[sup(c.fingerprint)]), today=TODAY).passed
    d = sca("CVE-5", "high", pkg="org.acme/core", version="2.1")
    for glob, ok in [
        ("org.acme/*", True),
        ("org.acme/core@2.*", True),
        ("pkg:maven/org.acme/*", True),
        ("org.other/*", False),
    ]:
        assert apply([d], Policy(suppressions=[sup("CVE-5", glob=glob)]), today=TODAY).passed is ok


def test_expiry_is_inclusive_and_expired_ones_are_reported() -> None:
    f = sca("CVE-1", "critical")
    assert apply([f], Policy(suppressions=[sup("CVE-1", expires=TODAY)]), today=TODAY).passed
    old = sup("CVE-1", expires=date(2026, 11, 25))
    verdict = apply([f], Policy(suppressions=[old]), today=TODAY)
    assert not verdict.passed and verdict.expired == [old] and verdict.expired_hits == [(old, f)]


def test_baseline_known_findings_cannot_block() -> None:
    known, new = sca("CVE-1", "critical"), sca("CVE-2", "critical")
    verdict = apply([known, new], Policy(), baseline={known.fingerprint}, today=TODAY)
    assert verdict.blocking == [new] and verdict.baseline_known == 1
    assert (known.baseline_state, new.baseline_state) == ("unchanged", "new")


def test_many_findings_and_suppressions_stay_fast() -> None:
    import time

    found = [sca(f"CVE-{i}", "high", pkg=f"g/a{i % 50}") for i in range(20000)]
    sups = [sup(f"CVE-{i}") for i in range(0, 20000, 2)]
    started = time.perf_counter()
    verdict = apply(found, Policy(suppressions=sups), today=TODAY)
    assert time.perf_counter() - started < 2.0
    assert verdict.suppressed == 10000 and len(verdict.blocking) == 10000


@pytest.mark.parametrize("text", ["high", "high=x", "severe=1", "high=-1"])
def test_parse_max_rejects(text: str) -> None:
    with pytest.raises(BadInput, match="--max"):
        parse_max(text)


def test_parse_max() -> None:
    assert parse_max("high=0, medium=10") == {"high": 0, "medium": 10}
