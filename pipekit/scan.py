"""``pipekit scan``: one security gate over SAST and SCA reports.

Gather reports (given, or produced with ``--run TOOL``), read each by content into findings,
merge duplicates across tools, apply the policy (threshold, maximum counts, suppressions,
baseline), write SARIF / JUnit / Code Insights, record the summary, and exit 1 when blocked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click

from pipekit.core.config import pick
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.step import StepContext, step_command
from pipekit.reports import findings as fm
from pipekit.reports import policy as policy_mod

SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info", "none")


@dataclass
class ScanOptions:
    reports: list[str] = field(default_factory=list)
    fail_on: str | None = None
    max: dict[str, int] | None = None
    baseline: str | None = None
    policy_file: str | None = None
    sarif_out: str | None = None
    junit_out: str | None = None
    code_insights: bool = False
    run_tools: list[str] = field(default_factory=list)
    format: str | None = None
    today: date | None = None  # for tests: the day suppressions expire against
    run_dir: str = ".pipekit/scan"


@dataclass
class ScanResult:
    summary: dict[str, Any]
    blocking: list[dict[str, Any]]
    reasons: list[str]
    reports: list[dict[str, Any]]
    expired_suppressions: list[dict[str, Any]]
    sarif_out: str | None = None
    junit_out: str | None = None
    annotations_sent: int | None = None


def _finding_dict(f: fm.Finding) -> dict[str, Any]:
    return {"tool": f.tool, "kind": f.kind, "id": f.rule_id, "severity": f.severity, "title": f.title,
            "location": f.location, "fixed_in": f.fixed_in, "fingerprint": f.fingerprint}


def load_policy(options: ScanOptions, ctx: StepContext) -> policy_mod.Policy:
    if options.policy_file:
        policy = policy_mod.load_file(options.policy_file)
    else:
        policy = policy_mod.from_section(ctx.config.section("scan"), ctx.config.where)
    fail_on = pick(options.fail_on, "PIPEKIT_SCAN_FAIL_ON", None, None, ctx.env)
    if fail_on is not None:
        if fail_on not in SEVERITY_CHOICES:
            raise BadInput(f"PIPEKIT_SCAN_FAIL_ON={fail_on!r}: use one of {', '.join(SEVERITY_CHOICES)}")
        policy.fail_on = None if fail_on == "none" else fail_on
        policy.sast.pop("fail_on", None)
        policy.sca.pop("fail_on", None)
    if options.max:
        policy.max.update(options.max)
        for own in (policy.sast, policy.sca):
            for sev in options.max:
                own.get("max", {}).pop(sev, None)
    baseline = pick(options.baseline, "PIPEKIT_SCAN_BASELINE", policy.baseline, None, ctx.env)
    policy.baseline = baseline
    return policy


def gather_reports(options: ScanOptions, ctx: StepContext) -> list[str]:
    from pipekit.reports.runners import registry as scanners

    reports = list(options.reports) or list(ctx.config.get("scan.reports") or [])
    runners = ctx.config.get("scan.run") or {}
    for tool in options.run_tools:
        cfg = runners.get(tool) or {}
        run = scanners.plan(tool, cfg, Path(options.run_dir), ctx.env)
        ctx.console.info(f"running {tool}: {' '.join(run.argv[1:4])} ...")
        reports.append(str(scanners.execute(run, ctx.env, timeout_s=cfg.get("timeout_s", scanners.DEFAULT_TIMEOUT_S))))
    if not reports:
        raise BadInput("no reports to gate: give REPORT files, set scan.reports in pipekit.yaml, or use --run TOOL")
    return reports


def run(options: ScanOptions, ctx: StepContext) -> ScanResult:
    from pipekit.reports.readers.detect import read_report

    with ctx.record.recording("scan") as outputs, fm.gc_paused():
        output_paths(options, ctx)  # every output checked before anything is read or written
        policy = load_policy(options, ctx)
        paths = gather_reports(options, ctx)
        reports = [read_report(p, options.format) for p in paths]  # all read before anything is written
        read = [{"path": r.path, "format": r.format, "findings": len(r.findings)} for r in reports]
        for note in (n for r in reports for n in r.notes):
            ctx.console.warn(f"partial scan: {note}")
        baseline: set[str] | None = None
        if policy.baseline:
            baseline = {f.fingerprint for f in read_report(policy.baseline).findings}
        findings = fm.merge(f for r in reports for f in r.findings)
        del reports[:]  # findings live on in `findings`; drop the per-report lists
        verdict = policy_mod.apply(findings, policy, baseline=baseline, today=options.today)
        counts = Counter(f.severity for f in findings if not f.suppressed)
        tools = sorted({f.tool for f in findings} | {t for f in findings for t in f.also_reported_by})
        summary = {**{s: counts[s] for s in fm.SEVERITIES}, "blocking": len(verdict.blocking),
                   "suppressed": verdict.suppressed, "passed": verdict.passed, "tools": tools,
                   "total": len(findings), "baseline_known": verdict.baseline_known}
        outputs["summary"] = summary
        result = ScanResult(
            summary=summary, blocking=[_finding_dict(f) for f in verdict.blocking[:1000]], reasons=verdict.reasons,
            reports=read,
            expired_suppressions=[{"id": s.id, "expires": s.expires.isoformat(), "where": s.where}
                                  for s in verdict.expired],
        )
        show(ctx, findings, verdict, summary)
        write_outputs(options, ctx, findings, verdict, result, with_baseline=baseline is not None)
        if not verdict.passed:
            raise CheckFailed(f"security gate blocked: {len(verdict.blocking)} blocking finding(s); "
                              + "; ".join(verdict.reasons), result=result)
    return result


def output_paths(options: ScanOptions, ctx: StepContext) -> tuple[str | None, str | None]:
    """The SARIF and JUnit paths, each checked writable (a directory, an uncreatable folder: exit 2)."""
    from pipekit.core.outfiles import check_writable

    sarif_out = pick(options.sarif_out, "PIPEKIT_SCAN_SARIF_OUT", ctx.config.get("scan.sarif_out"), None, ctx.env)
    junit_out = pick(options.junit_out, "PIPEKIT_SCAN_JUNIT_OUT", ctx.config.get("scan.junit_out"), None, ctx.env)
    if sarif_out:
        check_writable(sarif_out, "--sarif-out")
    if junit_out:
        check_writable(junit_out, "--junit-out")
    return sarif_out, junit_out


def write_outputs(options: ScanOptions, ctx: StepContext, findings: list[fm.Finding], verdict: policy_mod.Verdict,
                  result: ScanResult, *, with_baseline: bool) -> None:
    from pipekit import __version__

    sarif_out, junit_out = output_paths(options, ctx)
    if sarif_out:
        from pipekit.reports.writers import sarif

        sarif.write(sarif_out, findings, with_baseline=with_baseline, version=__version__)
        result.sarif_out = sarif_out
    if junit_out:
        from pipekit.reports.writers import junit

        junit.write(junit_out, verdict.blocking, total=len(findings), reasons=verdict.reasons)
        result.junit_out = junit_out
    if options.code_insights or ctx.config.get("scan.code_insights"):
        from pipekit.clients.bitbucket import CodeInsights
        from pipekit.reports.writers import code_insights as ci

        p = ctx.pipeline
        client = CodeInsights.from_env(ctx.env, workspace=p.workspace, repo=p.repo_slug, commit=p.commit)
        body = ci.report(findings, passed=verdict.passed, blocking=len(verdict.blocking),
                         suppressed=verdict.suppressed, link=p.pipeline_url)
        result.annotations_sent = client.publish(ci.REPORT_ID, body, ci.annotations_for(findings))
        ctx.console.info(f"Code Insights: report {ci.REPORT_ID} ({body['result']}), "
                         f"{result.annotations_sent} annotation(s) on commit {p.short_sha}")


def show(ctx: StepContext, findings: list[fm.Finding], verdict: policy_mod.Verdict, summary: dict[str, Any]) -> None:
    from pipekit.reports.writers import summary as summary_mod

    console = ctx.console
    headers, rows = summary_mod.counts_table(findings)
    console.table(headers, rows, title="Findings by severity and tool (suppressed included)")
    if findings:
        headers, rows, left = summary_mod.finding_rows(findings, verdict.blocking)
        console.table(headers, rows, title="Blocking findings first" if verdict.blocking else "Findings")
        if left > 0:
            console.info(f"... and {left} more (see the SARIF output)")
    for s in verdict.expired:
        console.warn(f"suppression {s.id} ({s.where}) expired on {s.expires.isoformat()}: it no longer suppresses")
    for s, f in verdict.expired_hits[:50]:
        console.warn(f"{f.rule_id} at {f.location} is no longer suppressed: suppression expired {s.expires.isoformat()}")
    line = (f"{summary['total']} findings: " + ", ".join(f"{summary[s]} {s}" for s in fm.SEVERITIES)
            + f"; {summary['suppressed']} suppressed; {summary['blocking']} blocking")
    if verdict.passed:
        console.success(f"security gate passed: {line}")
    else:
        for reason in verdict.reasons:
            console.error(f"blocked: {reason}")


def _parse_max(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, int] | None:
    return policy_mod.parse_max_click(value) if value else None


@step_command("scan", help="Security gate over SAST and SCA reports (SARIF, Veracode, SourceClear, Trivy, "
                           "Grype, Dependency-Check, Semgrep, Bandit).")
@click.argument("reports", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Block findings at this severity or above [env PIPEKIT_SCAN_FAIL_ON; scan.fail_on; default high].")
@click.option("--max", "max_counts", callback=_parse_max, default=None, metavar="SEV=N,...",
              help="Per-severity maximum counts, e.g. high=0,medium=10 [scan.max].")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="Earlier report or pipekit SARIF: only new findings can fail [env PIPEKIT_SCAN_BASELINE; scan.baseline].")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), default=None,
              help="Policy YAML (the scan section's keys) instead of pipekit.yaml's scan section.")
@click.option("--sarif-out", default=None, help="Write merged SARIF 2.1.0 here [env PIPEKIT_SCAN_SARIF_OUT].")
@click.option("--junit-out", default=None, help="Write JUnit XML (one failing case per blocking finding) here.")
@click.option("--code-insights", is_flag=True, default=False,
              help="Publish a Bitbucket Code Insights report and annotations for the commit.")
@click.option("--run", "run_tools", multiple=True, metavar="TOOL",
              help="Run a scanner first and gate its report: semgrep, bandit, veracode, srcclr, trivy, grype.")
@click.option("--format", "fmt", default=None, metavar="FMT",
              help="Force the report format instead of detecting it: sarif, veracode, srcclr, trivy, grype, "
                   "dependency-check, semgrep, bandit.")
def main(ctx: StepContext, reports: tuple[str, ...], fail_on: str | None, max_counts: dict[str, int] | None,
         baseline: str | None, policy_file: str | None, sarif_out: str | None, junit_out: str | None,
         code_insights: bool, run_tools: tuple[str, ...], fmt: str | None) -> ScanResult:
    options = ScanOptions(reports=list(reports), fail_on=fail_on, max=max_counts, baseline=baseline,
                          policy_file=policy_file, sarif_out=sarif_out, junit_out=junit_out,
                          code_insights=code_insights, run_tools=list(run_tools), format=fmt)
    return run(options, ctx)


if __name__ == "__main__":
    main()
