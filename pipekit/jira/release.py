"""The release gate, run: decide for one version, record the decision for notify's card, report it
(``pipekit jira-gate``), and promote's ``jira`` gate over the promoted images' versions
(:func:`evaluate`), which reads the same settings from the environment and ``pipekit.yaml``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from pipekit.core.errors import BadInput, CheckFailed, PipekitError
from pipekit.core.options import resolve
from pipekit.core.recorded import RECORDED, Recorded, record
from pipekit.jira import version as versions
from pipekit.jira.gate import Decision
from pipekit.jira.settings import JiraGateOptions

if TYPE_CHECKING:
    from pipekit.core.outputs import BuildResult
    from pipekit.core.step import StepContext
    from pipekit.promotion.gates import GateRequest, GateResult


@dataclass
class JiraGateResult(Recorded):
    SECTION: ClassVar[str] = "jira_gate"

    passed: bool = field(metadata=RECORDED)
    project: str = field(metadata=RECORDED)
    version: str = field(metadata=RECORDED)
    version_source: str  # flag | tag | maven | image | build
    require: str = field(metadata=RECORDED)
    state: str = field(
        metadata=RECORDED
    )  # released | unreleased | archived | missing; unknown: Jira did not answer
    reason: str = field(metadata=RECORDED)
    issues: int = field(default=0, metadata=RECORDED)
    allowed_statuses: list[str] = field(default_factory=list)
    # key, summary, status, assignee, url, unblock; the record keeps the first 20 and the count
    blocking: list[dict[str, Any]] = field(
        default_factory=list, metadata=record(value=lambda r: r.blocking[:20])
    )
    blocking_count: int = field(default=0, metadata=RECORDED)
    jql: str | None = None
    jira_url: str = field(default="", metadata=RECORDED)


def check(options: JiraGateOptions, resolved: versions.ResolvedVersion, ctx: StepContext) -> JiraGateResult:
    """Decide for one version, record the decision, report it; a blocked gate raises CheckFailed."""
    from pipekit.jira.gate import decide

    jira = options.client()
    with ctx.record.recording(JiraGateResult.SECTION) as outputs:
        try:
            decision = decide(
                jira,
                options.project,
                resolved.name,
                require=options.require,
                allowed_statuses=options.allowed_statuses,
                extra_jql=options.jql,
            )
        except PipekitError as exc:  # unknown project, unreachable Jira: the card says why, not stale facts
            JiraGateResult(
                passed=False,
                project=options.project,
                version=resolved.name,
                version_source=resolved.source,
                require=options.require,
                state="unknown",
                reason=exc.message,
                jira_url=options.site_url.rstrip("/"),
            ).write_to(outputs)
            raise
        result = to_result(decision, resolved, options.site_url)
        result.write_to(outputs)
        report(ctx, result)
        if not result.passed:
            raise CheckFailed(f"Jira gate blocked: {result.reason}", result=result)
    return result


def to_result(decision: Decision, resolved: versions.ResolvedVersion, site_url: str) -> JiraGateResult:
    return JiraGateResult(
        passed=decision.passed,
        project=decision.project,
        version=decision.version,
        version_source=resolved.source,
        require=decision.require,
        state=decision.state,
        reason=decision.reason,
        issues=decision.issues,
        allowed_statuses=decision.allowed_statuses,
        blocking=[asdict(b) for b in decision.blocking],
        blocking_count=len(decision.blocking),
        jql=decision.jql,
        jira_url=site_url.rstrip("/"),
    )


def report(ctx: StepContext, result: JiraGateResult) -> None:
    con = ctx.console
    what = f"Jira {result.project} {result.version} ({result.version_source}, require {result.require})"
    if result.passed:
        con.success(f"{what}: {result.reason}")
        return
    con.warn(f"{what}: blocked: {result.reason}")
    for b in result.blocking:
        con.print(
            f"  {b['key']}  [{b['status']}]  {b['assignee'] or 'unassigned'}  {b['summary']}  {b['url']}"
        )
        con.print(f"      -> {b['unblock']}")


def evaluate(request: GateRequest, ctx: StepContext) -> GateResult:
    """The ``jira`` gate: every version among the promoted images' tags passes this gate."""
    from pipekit.core.outputs import BuildResult
    from pipekit.promotion.gates import GateResult, GateUnavailable

    try:
        options = replace(resolve(JiraGateOptions, ctx).options, tag=ctx.pipeline.tag)
        if not options.project:
            raise BadInput("no Jira project: set PIPEKIT_JIRA_PROJECT or jira.project in pipekit.yaml")
        wanted = promoted_versions(request, options, BuildResult.read(ctx.record))
        results = [check(options, resolved, ctx) for resolved in wanted]
    except CheckFailed as exc:  # blocked, or the project is unknown: Jira answered, and said no
        return GateResult(False, exc.message)
    except PipekitError as exc:
        raise GateUnavailable(f"gate 'jira' is not available: {exc}") from None
    return GateResult(True, "; ".join(r.reason for r in results), {r.version: r.state for r in results})


def promoted_versions(
    request: GateRequest, options: JiraGateOptions, build: BuildResult | None = None
) -> list[versions.ResolvedVersion]:
    """The versions being promoted: ``PIPEKIT_JIRA_VERSION``, else each image's tag through the
    pattern; a tag the pattern does not match (a short SHA) is this pipeline's build when the
    run record's build pushed it, whose Maven version then names it."""
    if options.version:
        return [versions.ResolvedVersion(options.version, "flag", options.version)]
    pattern = versions.compile_pattern(options.version_pattern, "jira.version_pattern")
    found: dict[str, versions.ResolvedVersion] = {}
    for service, reference in sorted(request.images.items()):
        tag = versions.tag_of(reference)
        if tag and pattern.search(tag):
            name, source = versions.apply(pattern, tag, f"{service} tag"), "image"
        elif tag and build and build.version and tag in (build.tags or []):
            name, source = versions.apply(pattern, build.version, "the build's version"), "build"
        else:
            raise BadInput(
                f"{service}: cannot tell the Jira version of {reference}: its tag does not match "
                f"jira.version_pattern {pattern.pattern!r} and this run record's build did not push it",
                hint="set PIPEKIT_JIRA_VERSION, or tag images with their version",
            )
        found.setdefault(name, versions.ResolvedVersion(name, source, reference))
    if not found:
        raise BadInput("no images to take a Jira version from")
    return list(found.values())
