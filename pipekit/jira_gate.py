"""``pipekit jira-gate``: is the release version ready in Jira? Also promote's ``jira`` gate.

Name the version (``--version``, else the git tag, else the Maven project version through
``--version-pattern``), find it in the project by exact name, refuse an archived one, check it is
released or unreleased as ``--require`` says, and with ``--allowed-statuses`` check every issue
fixed in it. Record the decision for ``notify``; a blocked gate exits 1 listing what would unblock
each issue. As the ``jira`` gate of ``pipekit promote`` (:func:`evaluate`) it reads the same
settings from the environment and ``pipekit.yaml`` and checks the version of the images promoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import BadInput, CheckFailed, PipekitError
from pipekit.core.options import Option, OptionTable
from pipekit.core.step import StepContext, step_command
from pipekit.jira import version as versions
from pipekit.jira.gate import REQUIRE, Decision

if TYPE_CHECKING:
    from pipekit.clients.jira import JiraClient
    from pipekit.core.outputs import BuildOutputs
    from pipekit.promotion.gates import GateRequest, GateResult

OPTIONS = OptionTable([
    Option("project", "--project", env="PIPEKIT_JIRA_PROJECT", config="jira.project", help="Jira project key."),
    Option("version", "--version", env="PIPEKIT_JIRA_VERSION",
           help="Version name [default: the git tag, else the Maven project version, through --version-pattern]."),
    Option("require", "--require", type="choice", choices=REQUIRE, default="unreleased",
           env="PIPEKIT_JIRA_REQUIRE", config="jira.require", help="What the version must be."),
    Option("allowed_statuses", "--allowed-statuses", type="list", env="PIPEKIT_JIRA_ALLOWED_STATUSES",
           config="jira.allowed_statuses", help="Statuses every issue fixed in the version must be in, e.g. "
           "'Done,Ready for QA' [default: issues are not checked]."),
    Option("jql", "--jql", env="PIPEKIT_JIRA_JQL", config="jira.jql", help="Extra JQL narrowing the issues checked."),
    Option("version_pattern", "--version-pattern", env="PIPEKIT_JIRA_VERSION_PATTERN", config="jira.version_pattern",
           default=versions.DEFAULT_PATTERN, help="Regex taking the version from the tag or Maven version "
           "(its 'version' group, else group 1, else the match)."),
    Option("pom", "--pom", type="path", default="pom.xml", help="pom.xml for the Maven project version."),
    Option("site_url", "--jira-url", env="JIRA_BASE_URL", config="jira.base_url",
           help="Jira site URL, e.g. https://example.atlassian.net."),
    Option("deployment", "--deployment", type="choice", choices=("auto", "cloud", "datacenter"), default="auto",
           env="PIPEKIT_JIRA_DEPLOYMENT", config="jira.deployment",
           help="Jira Cloud (REST v3) or Data Center (REST v2); auto: datacenter with JIRA_PAT, else cloud."),
    Option("cloud_id", None, env="JIRA_CLOUD_ID", config="jira.cloud_id"),
    Option("gateway_url", None, env="PIPEKIT_JIRA_GATEWAY_URL", default="https://api.atlassian.com"),
    Option("email", None, env="JIRA_USER_EMAIL", config="jira.user_email"),
    Option("token", None, env="JIRA_API_TOKEN", secret=True),
    Option("pat", None, env="JIRA_PAT", secret=True),
    Option("timeout", "--timeout", type="float", default=30.0, minimum=0.0, env="PIPEKIT_JIRA_TIMEOUT",
           config="jira.timeout", help="Bound on all tries of one Jira request, seconds (429/503 retried)."),
])


@dataclass
class JiraGateOptions:
    project: str
    site_url: str
    version: str | None = None
    tag: str | None = None  # the git tag of this build
    pom: Path = Path("pom.xml")
    require: str = "unreleased"
    allowed_statuses: tuple[str, ...] = ()
    jql: str | None = None
    version_pattern: str = versions.DEFAULT_PATTERN
    deployment: str = "auto"
    cloud_id: str | None = None
    gateway_url: str = "https://api.atlassian.com"
    email: str | None = None
    token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass
class JiraGateResult:
    passed: bool
    project: str
    version: str
    version_source: str  # flag | tag | maven | image | build
    require: str
    state: str  # released | unreleased | archived | missing
    reason: str
    issues: int = 0
    allowed_statuses: list[str] = field(default_factory=list)
    blocking: list[dict[str, Any]] = field(default_factory=list)  # key, summary, status, assignee, url, unblock
    jql: str | None = None
    jira_url: str = ""


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> JiraGateOptions:
    v = OPTIONS.resolve(ctx, flags)
    return JiraGateOptions(
        project=v["project"] or "", site_url=v["site_url"] or "", version=v["version"], tag=ctx.pipeline.tag,
        pom=Path(v["pom"]), require=v["require"], allowed_statuses=tuple(v["allowed_statuses"] or ()),
        jql=v["jql"], version_pattern=v["version_pattern"], deployment=v["deployment"], cloud_id=v["cloud_id"],
        gateway_url=v["gateway_url"], email=v["email"], token=v["token"], pat=v["pat"], timeout=v["timeout"])


def client(options: JiraGateOptions) -> JiraClient:
    """The Jira client for these options; exit 2 naming the variables when something is missing."""
    from pipekit.clients.jira import CLOUD, DATACENTER, JiraClient

    if not options.site_url:
        raise BadInput("no Jira: set JIRA_BASE_URL (or jira.base_url in pipekit.yaml, or pass --jira-url)")
    from pipekit.core import masking

    if masking.without_userinfo(options.site_url) != options.site_url:  # it would print in every issue link
        masking.add_url_credentials(options.site_url)
        raise BadInput(f"JIRA_BASE_URL {masking.mask_url(options.site_url).replace('://', '://***@', 1)} carries "
                       "user information: it would be printed in issue links and stored in the run record",
                       hint="give the site URL alone; credentials go in JIRA_USER_EMAIL and JIRA_API_TOKEN "
                            "(or JIRA_PAT)")
    if not options.pat and not (options.email and options.token):
        missing = [n for n, val in (("JIRA_USER_EMAIL", options.email), ("JIRA_API_TOKEN", options.token)) if not val]
        raise BadInput(f"no Jira credentials: {' and '.join(missing)} not set",
                       hint="set JIRA_USER_EMAIL and JIRA_API_TOKEN (Jira Cloud, basic auth), or JIRA_PAT "
                            "(Jira Data Center personal access token)")
    deployment = options.deployment
    if deployment == "auto":
        deployment = DATACENTER if options.pat else CLOUD
    return JiraClient(options.site_url, email=options.email, token=options.token, pat=options.pat,
                      cloud_id=options.cloud_id, deployment=deployment, gateway_url=options.gateway_url,
                      timeout=options.timeout)


def run(options: JiraGateOptions, ctx: StepContext) -> JiraGateResult:
    if not options.project:
        raise BadInput("no Jira project: pass --project KEY or set PIPEKIT_JIRA_PROJECT (or jira.project)")
    resolved = versions.resolve(options.version, options.tag, options.pom, options.version_pattern)
    return check(options, resolved, ctx)


def check(options: JiraGateOptions, resolved: versions.ResolvedVersion, ctx: StepContext) -> JiraGateResult:
    """Decide for one version, record the decision, report it; a blocked gate raises CheckFailed."""
    from pipekit.core.outputs import JiraGateOutputs
    from pipekit.jira.gate import decide

    jira = client(options)
    with ctx.record.recording(JiraGateOutputs.SECTION) as outputs:
        try:
            decision = decide(jira, options.project, resolved.name, require=options.require,
                              allowed_statuses=options.allowed_statuses, extra_jql=options.jql)
        except PipekitError as exc:  # unknown project, unreachable Jira: the card says why, not stale facts
            JiraGateOutputs(passed=False, project=options.project, version=resolved.name, require=options.require,
                            state="unknown", reason=exc.message, issues=0, blocking=[], blocking_count=0,
                            jira_url=options.site_url.rstrip("/")).write_to(outputs)
            raise
        result = to_result(decision, resolved, options.site_url)
        JiraGateOutputs(passed=result.passed, project=result.project, version=result.version,
                        require=result.require, state=result.state, reason=result.reason, issues=result.issues,
                        blocking=result.blocking[:20], blocking_count=len(result.blocking),
                        jira_url=result.jira_url).write_to(outputs)
        report(ctx, result)
        if not result.passed:
            raise CheckFailed(f"Jira gate blocked: {result.reason}", result=result)
    return result


def to_result(decision: Decision, resolved: versions.ResolvedVersion, site_url: str) -> JiraGateResult:
    return JiraGateResult(
        passed=decision.passed, project=decision.project, version=decision.version, version_source=resolved.source,
        require=decision.require, state=decision.state, reason=decision.reason, issues=decision.issues,
        allowed_statuses=decision.allowed_statuses, blocking=[asdict(b) for b in decision.blocking],
        jql=decision.jql, jira_url=site_url.rstrip("/"))


def report(ctx: StepContext, result: JiraGateResult) -> None:
    con = ctx.console
    what = f"Jira {result.project} {result.version} ({result.version_source}, require {result.require})"
    if result.passed:
        con.success(f"{what}: {result.reason}")
        return
    con.warn(f"{what}: blocked: {result.reason}")
    for b in result.blocking:
        con.print(f"  {b['key']}  [{b['status']}]  {b['assignee'] or 'unassigned'}  {b['summary']}  {b['url']}")
        con.print(f"      -> {b['unblock']}")


@step_command("jira-gate", OPTIONS, help="Check the release version in Jira: exists, released/unreleased, "
              "every issue in an allowed status.")
def main(ctx: StepContext, flags: dict[str, Any]) -> JiraGateResult:
    return run(options_from(ctx, flags), ctx)


# -- promote's ``jira`` gate ----------------------------------------------------------------
def evaluate(request: GateRequest, ctx: StepContext) -> GateResult:
    """The ``jira`` gate: every version among the promoted images' tags passes this gate."""
    from pipekit.core.outputs import BuildOutputs
    from pipekit.promotion.gates import GateResult, GateUnavailable

    try:
        options = options_from(ctx, {})
        if not options.project:
            raise BadInput("no Jira project: set PIPEKIT_JIRA_PROJECT or jira.project in pipekit.yaml")
        wanted = promoted_versions(request, options, BuildOutputs.read(ctx.record))
        results = [check(options, resolved, ctx) for resolved in wanted]
    except CheckFailed as exc:  # blocked, or the project is unknown: Jira answered, and said no
        return GateResult(False, exc.message)
    except PipekitError as exc:
        raise GateUnavailable(f"gate 'jira' is not available: {exc}") from None
    return GateResult(True, "; ".join(r.reason for r in results),
                      {r.version: r.state for r in results})


def promoted_versions(request: GateRequest, options: JiraGateOptions,
                      build: BuildOutputs | None = None) -> list[versions.ResolvedVersion]:
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
            raise BadInput(f"{service}: cannot tell the Jira version of {reference}: its tag does not match "
                           f"jira.version_pattern {pattern.pattern!r} and this run record's build did not push it",
                           hint="set PIPEKIT_JIRA_VERSION, or tag images with their version")
        found.setdefault(name, versions.ResolvedVersion(name, source, reference))
    if not found:
        raise BadInput("no images to take a Jira version from")
    return list(found.values())

if __name__ == "__main__":
    main()
