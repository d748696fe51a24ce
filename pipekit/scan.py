"""``pipekit scan``: one security gate over SAST and SCA reports.

Gather reports (given, or produced with ``--run TOOL``), read each by content into findings,
merge duplicates across tools, apply the policy (threshold, maximum counts, suppressions,
baseline), write SARIF / JUnit / Code Insights, record the summary, and exit 1 when blocked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, ref, resolve
from pipekit.core.outputs import ScanResult
from pipekit.core.step import StepContext, step_command
from pipekit.reports import findings as fm
from pipekit.reports import policy as policy_mod

__all__ = ["ScanOptions", "ScanResult", "load_policy", "main", "options_from", "run"]

Threshold = Literal["critical", "high", "medium", "low", "info", "none"]
SEVERITY_CHOICES: tuple[str, ...] = get_args(Threshold)


def _max(text: str | None) -> dict[str, int] | None:
    return policy_mod.parse_max(text) if text else None


def substitutes(value: str | None) -> dict[str, str]:
    """``TOOL=REPORT,...`` (``PIPEKIT_SCAN_SUBSTITUTE``) as a mapping; exit 2 naming a malformed item."""
    from pipekit.reports.runners.registry import TOOLS

    out: dict[str, str] = {}
    for item in (value or "").split(","):
        tool, sep, report = (part.strip() for part in item.partition("="))
        if not item.strip():
            continue
        if not sep or tool not in TOOLS or not report:
            raise BadInput(
                f"PIPEKIT_SCAN_SUBSTITUTE {item.strip()!r}: expected TOOL=REPORT with TOOL one of "
                f"{', '.join(TOOLS)}"
            )
        out[tool] = report
    return out


@dataclass
class ScanOptions:
    reports: list[str] = option(
        default_factory=list,
        argument=True,
        config="scan.reports",
        metavar="[REPORTS]...",
        min_length=1,
        help="Scanner reports to gate.",
    )
    fail_on: Threshold | None = option(
        flag="--fail-on",
        env="PIPEKIT_SCAN_FAIL_ON",
        help="Block findings at this severity or above [scan.fail_on; default high].",
    )
    max: dict[str, int] | None = option(
        flag="--max",
        metavar="SEV=N,...",
        convert=_max,
        help="Per-severity maximum counts, e.g. high=0,medium=10 [scan.max].",
    )
    baseline: str | None = option(
        flag="--baseline",
        env="PIPEKIT_SCAN_BASELINE",
        metavar="PATH",
        help="Earlier report or pipekit SARIF: only new findings can fail [scan.baseline].",
    )
    policy_file: str | None = option(
        flag="--policy",
        metavar="PATH",
        help="Policy YAML (the scan section's keys) instead of pipekit.yaml's scan section.",
    )
    sarif_out: str | None = option(
        flag="--sarif-out",
        env="PIPEKIT_SCAN_SARIF_OUT",
        config="scan.sarif_out",
        metavar="PATH",
        min_length=1,
        help="Write merged SARIF 2.1.0 here.",
    )
    junit_out: str | None = option(
        flag="--junit-out",
        env="PIPEKIT_SCAN_JUNIT_OUT",
        config="scan.junit_out",
        metavar="PATH",
        min_length=1,
        help="Write JUnit XML (one failing case per blocking finding) here.",
    )
    code_insights: bool = option(
        False,
        flag="--code-insights",
        config="scan.code_insights",
        help="Publish a Bitbucket Code Insights report and annotations for the commit.",
    )
    run_tools: list[str] = option(
        default_factory=list,
        flag="--run",
        metavar="TOOL",
        help="Run a scanner first and gate its report: semgrep, bandit, veracode, srcclr, trivy, grype.",
    )
    format: str | None = option(
        flag="--format",
        metavar="FMT",
        help="Force the report format instead of detecting it: sarif, veracode, srcclr, "
        "trivy, grype, dependency-check, semgrep, bandit.",
    )
    section: dict[str, Any] = option(  # fail_on, max, sast, sca, suppressions, baseline: read into ``policy``
        default_factory=dict,
        config="scan",
        schema=ref("scan_policy"),
        help="Security gate over SAST and SCA reports (pipekit scan).",
    )
    runners: dict[str, dict[str, Any]] = option(
        default_factory=dict,
        config="scan.run",
        schema=ref("scan_run"),
        help="Per scanner settings for --run.",
    )
    semgrep_config: str | None = option(
        env="PIPEKIT_SEMGREP_CONFIG",
        config="scan.run.semgrep.config",
        min_length=1,
        help="Semgrep rules for --run semgrep.",
    )
    veracode_jar: str | None = option(
        env="PIPEKIT_VERACODE_JAR",
        config="scan.run.veracode.jar",
        min_length=1,
        help="Veracode pipeline-scan.jar for --run veracode.",
    )
    substitutes: dict[str, str] = option(
        env="PIPEKIT_SCAN_SUBSTITUTE",
        metavar="TOOL=REPORT,...",
        convert=substitutes,
        help="Gate REPORT instead of running TOOL for --run TOOL (where it cannot "
        "run: a rehearsal offline); said in the log and the run record.",
    )
    today: date | None = None  # for tests: the day suppressions expire against
    run_dir: str = ".pipekit/scan"
    run_cwd: str | None = (
        None  # where --run scanners run (default: here); their targets and paths are relative to it
    )
    policy: policy_mod.Policy | None = None  # pipekit.yaml's scan section (``policy_file`` wins)


def _finding_dict(f: fm.Finding) -> dict[str, Any]:
    return {
        "tool": f.tool,
        "kind": f.kind,
        "id": f.rule_id,
        "severity": f.severity,
        "title": f.title,
        "location": f.location,
        "fixed_in": f.fixed_in,
        "fingerprint": f.fingerprint,
    }


def load_policy(options: ScanOptions) -> policy_mod.Policy:
    if options.policy_file:
        policy = policy_mod.load_file(options.policy_file)
    else:
        policy = options.policy or policy_mod.Policy()
    if options.fail_on is not None:
        policy.fail_on = None if options.fail_on == "none" else options.fail_on
        policy.sast.pop("fail_on", None)
        policy.sca.pop("fail_on", None)
    if options.max:
        policy.max.update(options.max)
        for own in (policy.sast, policy.sca):
            for sev in options.max:
                own.get("max", {}).pop(sev, None)
    policy.baseline = options.baseline or policy.baseline
    return policy


def gather_reports(options: ScanOptions, ctx: StepContext) -> list[str]:
    from pipekit.reports.runners import registry as scanners

    reports = list(options.reports)
    for tool in options.run_tools:
        if tool in options.substitutes:
            report = options.substitutes[tool]
            if not Path(report).is_file():
                raise BadInput(f"PIPEKIT_SCAN_SUBSTITUTE {tool}={report}: no such report file")
            ctx.console.warn(
                f"--run {tool}: not run; its report is substituted by {report} (PIPEKIT_SCAN_SUBSTITUTE)"
            )
            reports.append(report)
            continue
        cfg = options.runners.get(tool) or {}
        run = scanners.plan(tool, cfg, Path(options.run_dir), ctx.env)
        ctx.console.info(f"running {tool}: {' '.join(run.argv[1:4])} ...")
        reports.append(
            str(
                scanners.execute(
                    run,
                    ctx.env,
                    timeout_s=cfg.get("timeout_s", scanners.DEFAULT_TIMEOUT_S),
                    cwd=options.run_cwd,
                )
            )
        )
    if not reports:
        raise BadInput(
            "no reports to gate: give REPORT files, set scan.reports in pipekit.yaml, or use --run TOOL"
        )
    return reports


def run(options: ScanOptions, ctx: StepContext) -> ScanResult:
    from pipekit.reports.readers.detect import read_report

    with ctx.record.recording(ScanResult.SECTION) as outputs, fm.gc_paused():
        output_paths(options)  # every output checked before anything is read or written
        policy = load_policy(options)
        paths = gather_reports(options, ctx)
        reports = [read_report(p, options.format) for p in paths]  # all read before anything is written
        read = [{"path": r.path, "format": r.format, "findings": len(r.findings)} for r in reports]
        for entry in read:  # a report gated instead of running its tool says so
            for tool in (
                t for t, p in options.substitutes.items() if p == entry["path"] and t in options.run_tools
            ):
                entry["substituted_for"] = tool
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
        summary = {
            **{s: counts[s] for s in fm.SEVERITIES},
            "blocking": len(verdict.blocking),
            "suppressed": verdict.suppressed,
            "passed": verdict.passed,
            "tools": tools,
            "total": len(findings),
            "baseline_known": verdict.baseline_known,
        }
        result = ScanResult(
            summary=summary,
            blocking=[_finding_dict(f) for f in verdict.blocking[:1000]],
            reasons=verdict.reasons,
            reports=read,
            expired_suppressions=[
                {"id": s.id, "expires": s.expires.isoformat(), "where": s.where} for s in verdict.expired
            ],
        )
        result.write_to(outputs)
        show(ctx, findings, verdict, summary)
        write_outputs(options, ctx, findings, verdict, result, with_baseline=baseline is not None)
        if not verdict.passed:
            raise CheckFailed(
                f"security gate blocked: {len(verdict.blocking)} blocking finding(s); "
                + "; ".join(verdict.reasons),
                result=result,
            )
    return result


def output_paths(options: ScanOptions) -> tuple[str | None, str | None]:
    """The SARIF and JUnit paths, each checked writable (a directory, an uncreatable folder: exit 2)."""
    from pipekit.core.outfiles import check_writable

    sarif_out, junit_out = options.sarif_out, options.junit_out
    if sarif_out:
        check_writable(sarif_out, "--sarif-out")
    if junit_out:
        check_writable(junit_out, "--junit-out")
    return sarif_out, junit_out


def write_outputs(
    options: ScanOptions,
    ctx: StepContext,
    findings: list[fm.Finding],
    verdict: policy_mod.Verdict,
    result: ScanResult,
    *,
    with_baseline: bool,
) -> None:
    from pipekit import __version__

    sarif_out, junit_out = output_paths(options)  # checked again: nothing is written unless all can be
    if sarif_out or junit_out:
        from pipekit.reports.writers.interface import GateOutcome
        from pipekit.reports.writers.registry import WRITERS

        outcome = GateOutcome(
            findings, verdict.blocking, verdict.reasons, with_baseline=with_baseline, version=__version__
        )
        for name, path in (("sarif", sarif_out), ("junit", junit_out)):
            writer = WRITERS.find(name)
            if path and writer is not None:
                writer.write(path, outcome)
        result.sarif_out, result.junit_out = sarif_out, junit_out
    if options.code_insights:
        from pipekit.clients.bitbucket import CodeInsights
        from pipekit.reports.writers import code_insights as ci

        p = ctx.pipeline
        client = CodeInsights.from_env(ctx.env, workspace=p.workspace, repo=p.repo_slug, commit=p.commit)
        body = ci.report(
            findings,
            passed=verdict.passed,
            blocking=len(verdict.blocking),
            suppressed=verdict.suppressed,
            link=p.pipeline_url,
        )
        result.annotations_sent = client.publish(ci.REPORT_ID, body, ci.annotations_for(findings))
        ctx.console.info(
            f"Code Insights: report {ci.REPORT_ID} ({body['result']}), "
            f"{result.annotations_sent} annotation(s) on commit {p.short_sha}"
        )


def show(
    ctx: StepContext, findings: list[fm.Finding], verdict: policy_mod.Verdict, summary: dict[str, Any]
) -> None:
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
        console.warn(
            f"suppression {s.id} ({s.where}) expired on {s.expires.isoformat()}: it no longer suppresses"
        )
    for s, f in verdict.expired_hits[:50]:
        console.warn(
            f"{f.rule_id} at {f.location} is no longer suppressed: "
            f"suppression expired {s.expires.isoformat()}"
        )
    line = (
        f"{summary['total']} findings: "
        + ", ".join(f"{summary[s]} {s}" for s in fm.SEVERITIES)
        + f"; {summary['suppressed']} suppressed; {summary['blocking']} blocking"
    )
    if verdict.passed:
        console.success(f"security gate passed: {line}")
    else:
        for reason in verdict.reasons:
            console.error(f"blocked: {reason}")


@step_command(
    "scan",
    ScanOptions,
    help="Security gate over SAST and SCA reports (SARIF, Veracode, SourceClear, Trivy, "
    "Grype, Dependency-Check, Semgrep, Bandit).",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> ScanResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> ScanOptions:
    o = resolve(ScanOptions, ctx, flags).options
    runners = {str(k): dict(val) for k, val in o.runners.items() if isinstance(val, Mapping)}
    for tool, key, value in (("semgrep", "config", o.semgrep_config), ("veracode", "jar", o.veracode_jar)):
        if value:
            runners.setdefault(tool, {})[key] = value
    policy = None if o.policy_file else policy_mod.from_section(dict(o.section), ctx.config.where)
    return replace(o, runners=runners, policy=policy)


if __name__ == "__main__":
    main()
