"""A notification as data: built from the event, the pipeline context and the run record.

All text here is raw (unescaped); each channel's builder escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipekit.core.outputs import (
    BuildResult,
    EcrPushResult,
    PromoteResult,
    ScanResult,
    UpdateTagResult,
    WaitResult,
)
from pipekit.core.revision import short_revision
from pipekit.core.runrecord import Status

if TYPE_CHECKING:
    from pipekit.core.context import PipelineContext
    from pipekit.core.runrecord import RunRecord


@dataclass(frozen=True, eq=False)
class EventStyle:
    style: str  # Adaptive Card container style: good, attention, warning, accent, emphasis
    icon: str
    verb: str


EVENTS: dict[str, EventStyle] = {
    "started": EventStyle("accent", "▶️", "started"),
    "succeeded": EventStyle("good", "✅", "succeeded"),
    "failed": EventStyle("attention", "❌", "failed"),
    "deployed": EventStyle("good", "🚀", "deployed"),
    "promoted": EventStyle("good", "⏫", "promoted"),
    "blocked": EventStyle("warning", "⛔", "blocked"),
    "summary": EventStyle("emphasis", "📋", "finished"),
}
FAILED_STATUSES = {s.value for s in Status if s.bad}  # failed, error, timed-out, interrupted
DID_NOT_FINISH = "did not finish"
MAX_FAILING_TESTS = 10
STATUS_ICONS = {
    Status.ERROR.value: "❌",
    Status.TIMED_OUT.value: "⏱",
    Status.INTERRUPTED.value: "⏹",
    Status.SKIPPED.value: "⏭",
}


def status_icon(status: str) -> str:
    """The icon of a step's line on a summary card."""
    return EVENTS[status].icon if status in EVENTS else STATUS_ICONS.get(status, "❔")


@dataclass(eq=False)
class Fact:
    label: str
    value: str


@dataclass(eq=False)
class Commit:
    sha: str
    short_sha: str
    url: str | None = None
    author: str | None = None
    subject: str | None = None


@dataclass(eq=False)
class Detail:
    """A titled list (failing tests, Argo CD apps); ``more`` lines were left out."""

    title: str
    lines: list[str]
    more: int = 0


@dataclass(eq=False)
class StepLine:
    name: str
    status: str
    duration_s: float | None = None


@dataclass(eq=False)
class Link:
    title: str
    url: str


@dataclass(eq=False)
class Notification:
    event: str
    outcome: str  # succeeded, failed, started, ... (summary: the pipeline's overall outcome)
    style: str
    icon: str
    title: str
    service: str
    stage: str
    environment: str | None = None
    facts: list[Fact] = field(default_factory=list)
    commit: Commit | None = None
    message: str | None = None
    details: list[Detail] = field(default_factory=list)
    steps: list[StepLine] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    run_id: str = "local"
    target: str | None = None  # the environment given by flag or deployment step (not read from the record)

    @property
    def key(self) -> str:
        """Idempotency key: the same run, stage, event (and target environment) is posted once.

        Only inputs that stay the same when a step is retried go in: never facts read from the
        run record, which a retried step may have changed in the meantime.
        """
        return f"{self.run_id}:{self.stage}:{self.event}" + (f":{self.target}" if self.target else "")


def run_id(p: PipelineContext) -> str:
    if p.pipeline_uuid:
        return p.pipeline_uuid.strip("{}")
    if p.build_number:
        return f"{p.repo_full_name or p.repo_slug or 'build'}#{p.build_number}"
    return f"local-{short_revision(p.commit)}" if p.commit else "local"


def _http(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return ""
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {int(s % 60)} s"


def _ref(p: PipelineContext) -> Fact | None:
    if p.pr_id:
        target = f" → {p.pr_destination_branch}" if p.pr_destination_branch else ""
        return Fact("Pull request", f"#{p.pr_id} {p.branch or ''}{target}".strip())
    if p.tag:
        return Fact("Tag", p.tag)
    if p.branch:
        return Fact("Branch", p.branch)
    return None


def tests_text(tests: dict[str, Any]) -> str:
    parts = [
        f"{tests.get(k)} {k}" for k in ("passed", "failed", "errored", "skipped", "flaky") if tests.get(k)
    ]
    text = ", ".join(parts) or "no tests"
    if tests.get("total") is not None:
        text += f" of {tests['total']}"
    if tests.get("duration_s") is not None:
        text += f" ({_duration(tests['duration_s'])})"
    return text


def scan_text(summary: dict[str, Any]) -> str:
    verdict = "passed" if summary.get("passed") else f"BLOCKED ({summary.get('blocking', '?')} blocking)"
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("critical", "high", "medium", "low"))
    text = f"{verdict}: {counts}"
    if summary.get("suppressed"):
        text += f", {summary['suppressed']} suppressed"
    tools = summary.get("tools")
    if isinstance(tools, list) and tools:
        text += " (" + ", ".join(str(t) for t in tools) + ")"
    return text


def _record_facts(record: RunRecord) -> tuple[list[Fact], list[Detail]]:
    """Facts from the run record. What later steps build on (image, digest, revision) only from a step
    that succeeded; what explains a failure (tests, scan verdict, Argo CD states) whatever the status."""
    facts: list[Fact] = []
    details: list[Detail] = []
    build, ecr, scan = BuildResult.read(record), EcrPushResult.read(record), ScanResult.read(record)
    update, promote = UpdateTagResult.read(record), PromoteResult.read(record)
    image = build.image_ref if build.succeeded else None
    if ecr.succeeded and ecr.image_uri and isinstance(ecr.tags, list) and ecr.tags:
        image = f"{ecr.image_uri}:{ecr.tags[0]}"
    if image:
        facts.append(Fact("Image", str(image)))
    digest = (ecr.digest if ecr.succeeded else None) or (update.digest if update.succeeded else None)
    if digest:
        facts.append(Fact("Digest", str(digest)))
    tests = build.tests
    if isinstance(tests, dict):
        facts.append(Fact("Tests", tests_text(tests)))
        _tests_detail(details, "Failing tests", tests.get("failing"), tests.get("failing_count"))
        _tests_detail(
            details, "Flaky tests (passed only on a rerun)", tests.get("flaky_tests"), tests.get("flaky")
        )
    facts_, details_ = _post_sync_facts(record)
    facts.extend(facts_)
    details.extend(details_)
    if isinstance(scan.summary, dict):
        facts.append(Fact("Security scan", scan_text(scan.summary)))
    jira_facts(record, facts, details)
    if promote.source and promote.target:
        services = promote.services or []
        facts.append(
            Fact(
                "Promotion",
                f"{promote.source} → {promote.target}"
                + (f" ({', '.join(map(str, services))})" if services else ""),
            )
        )
        notes_facts(promote.notes, facts, details)
    revision = (update.gitops_revision if update.succeeded else None) or (
        promote.gitops_revision if promote.succeeded else None
    )
    if revision:
        repo = update.gitops_repo if update.succeeded else None
        facts.append(Fact("GitOps revision", short_revision(revision) + (f" in {repo}" if repo else "")))
    apps = WaitResult.read(record).apps
    if apps:
        lines = [
            f"{a.name}: {a.sync or '?'} / {a.health or '?'}" + (f" ({a.phase})" if a.phase else "")
            for a in apps
        ]
        if len(lines) <= 3:
            facts.append(Fact("Argo CD", "; ".join(lines)))
        else:
            details.append(Detail("Argo CD applications", lines[:20], max(0, len(lines) - 20)))
    return facts, details


def _gitops_pull_requests(update: UpdateTagResult, promote: PromoteResult) -> list[tuple[str, str | None]]:
    """A link to each pull request update-tag or promote opened in the GitOps repository
    (--via pull-request)."""
    found = [
        pr
        for pr in [update.pull_request, *(promote.pull_requests or [])]
        if isinstance(pr, dict) and pr.get("url")
    ]
    return [
        (
            f"GitOps pull request #{pr.get('id')} ({str(pr.get('state') or 'open').lower()})"
            + (f": {pr['service']}" if len(found) > 1 and pr.get("service") else ""),
            _http(str(pr["url"])),
        )
        for pr in found
    ]


def notes_facts(notes: Any, facts: list[Fact], details: list[Detail]) -> None:
    """A promotion's release notes: the counts and Jira keys, then the first commit lines."""
    if not isinstance(notes, dict) or not isinstance(notes.get("services"), dict):
        return
    services = notes["services"]
    commits = notes.get("commits") or 0
    keys = [str(k) for k in notes.get("jira") or []]
    text = (
        f"{commits} commit{'s' if commits != 1 else ''} in {len(services)} "
        f"service{'s' if len(services) != 1 else ''}"
    )
    if keys:
        text += "; Jira " + ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
    unread = [f"{s}: {v.get('note')}" for s, v in services.items() if isinstance(v, dict) and v.get("note")]
    facts.append(Fact("Release notes", text))
    lines = [str(line) for line in notes.get("lines") or []] + unread[:3]
    if notes.get("file"):
        lines.append(f"Full notes: {notes['file']} (kept with the pipeline's artifacts)")
    if lines:
        details.append(Detail("Release notes", lines, int(notes.get("more") or 0)))


def jira_facts(record: RunRecord, facts: list[Fact], details: list[Detail]) -> None:
    """The Jira gate's decision: one fact, and the blocking issues with what would unblock each."""
    from pipekit.jira.release import JiraGateResult

    gate = JiraGateResult.read(record)
    if gate.passed is None or not gate.version:
        return
    verdict = "passed" if gate.passed else "BLOCKED"
    facts.append(Fact("Jira gate", f"{verdict}: {gate.reason or f'{gate.project} {gate.version}'}"))
    blocking = [b for b in gate.blocking or [] if isinstance(b, dict)]
    if blocking:
        lines = [
            f"{b.get('key')} {b.get('status')} ({b.get('assignee') or 'unassigned'}): {b.get('summary')}"
            f" → {b.get('unblock')}"
            for b in blocking[:MAX_FAILING_TESTS]
        ]
        total = gate.blocking_count if isinstance(gate.blocking_count, int) else len(blocking)
        details.append(Detail("Jira blocking issues", lines, max(0, total - len(lines))))


def _tests_detail(details: list[Detail], title: str, items: Any, count: Any = None) -> None:
    """A detail listing tests (``class.name: message``), when there are any; ``count``: how many
    there were (the run record keeps only the first ones)."""
    if not isinstance(items, list) or not items:
        return
    lines = []
    for item in items[:MAX_FAILING_TESTS]:
        if isinstance(item, dict):
            name = ".".join(str(item[k]) for k in ("class", "name") if item.get(k))
            msg = " ".join(str(item.get("message") or "").split())
            lines.append(f"{name}: {msg}" if msg else name)
    total = (
        count
        if isinstance(count, int) and not isinstance(count, bool) and count >= len(items)
        else len(items)
    )
    details.append(Detail(title, lines, max(0, total - len(lines))))


def _post_sync_facts(record: RunRecord) -> tuple[list[Fact], list[Detail]]:
    """The PostSync test Job's suite: counts (flaky included), the failing and flaky tests."""
    from pipekit.core.outputs import PostSyncTestResult

    out = PostSyncTestResult.read(record)
    if out.step_status is None:
        return [], []
    tests = out.tests if isinstance(out.tests, dict) else None
    facts = [
        Fact(
            f"Suite {out.suite}" if out.suite else "Suite",
            tests_text(tests) if tests else (out.message or str(out.result or out.step_status.value)),
        )
    ]
    details: list[Detail] = []
    if tests:
        _tests_detail(details, "Failing tests", tests.get("failing"), tests.get("failing_count"))
        _tests_detail(
            details, "Flaky tests (passed only on a rerun)", tests.get("flaky_tests"), tests.get("flaky")
        )
    elif out.message and out.result in ("not-ready", "bad-input"):
        details.append(Detail("Why the suite did not run", [out.message[:500]]))
    return facts, details


def _post_sync_summary(record: RunRecord) -> str | None:
    from pipekit.core.outputs import PostSyncTestResult

    return PostSyncTestResult.read(record).summary_url


PIPELINE_ORDER = (
    "build",
    "scan",
    "ecr_push",
    "update_tag",
    "jira_gate",
    "promote",
    "wait_for_argocd",
    "post_sync_test",
)


def _order(name: str) -> tuple[int, str]:
    """Steps that started in the same second are shown in pipeline order."""
    return (PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else len(PIPELINE_ORDER), name)


def step_lines(record: RunRecord, sender: str = "notify") -> list[StepLine]:
    """The steps of the run record, but the section of the step sending the card."""
    items = [(n, s) for n, s in record.steps.items() if n != sender and isinstance(s, dict)]
    items.sort(key=lambda kv: (str(kv[1].get("started_at") or ""), _order(kv[0])))
    out = []
    for name, section in items:
        status = str(section.get("status") or "unknown")
        dur = section.get("duration_s")
        out.append(
            StepLine(
                name,
                DID_NOT_FINISH if status == Status.RUNNING.value else status,
                float(dur) if isinstance(dur, (int, float)) else None,
            )
        )
    return out


def build(
    event: str,
    *,
    pipeline: PipelineContext,
    record: RunRecord,
    service: str,
    stage: str | None = None,
    environment: str | None = None,
    message: str | None = None,
) -> Notification:
    """The notification for ``event`` (one of :data:`EVENTS`)."""
    look = EVENTS[event]
    update, promote = UpdateTagResult.read(record), PromoteResult.read(record)
    env = (
        environment
        or pipeline.deployment_environment
        or (update.environment if update.succeeded else None)
        or promote.target
    )
    stage_name = stage or "pipeline"
    outcome, style, icon, verb = event, look.style, look.icon, look.verb
    steps: list[StepLine] = []
    if event == "summary":
        steps = step_lines(record)
        bad = pipeline.failed or any(s.status in FAILED_STATUSES or s.status == DID_NOT_FINISH for s in steps)
        outcome = Status.FAILED.value if bad else Status.SUCCEEDED.value
        style, icon = EVENTS[outcome].style, EVENTS[outcome].icon
        verb = outcome
    if event == "deployed" and env:
        title = f"{service} deployed to {env}"
    elif event == "promoted" and promote.target:
        title = f"{service} promoted {promote.source} → {promote.target}"
    else:
        title = f"{service}: {stage_name} {verb}"
    facts = [Fact("Service", service), Fact("Stage", stage_name)]
    if env:
        facts.append(Fact("Environment", str(env)))
    ref = _ref(pipeline)
    if ref:
        facts.append(ref)
    if pipeline.build_number:
        facts.append(Fact("Build", f"#{pipeline.build_number}"))
    if pipeline.failed:
        facts.append(Fact("Step exit code", str(pipeline.exit_code)))
    rec_facts, details = _record_facts(record)
    facts.extend(rec_facts)
    commit = None
    if pipeline.commit:
        commit = Commit(
            pipeline.commit,
            pipeline.commit[:7],
            _http(pipeline.commit_url),
            pipeline.author,
            pipeline.subject,
        )
    links = [
        Link(t, u)
        for t, u in (
            ("Test results", _http(_post_sync_summary(record))),
            ("Pipeline", _http(pipeline.pipeline_url)),
            ("Commit", _http(pipeline.commit_url)),
            ("Pull request", _http(pipeline.pr_url)),
            *_gitops_pull_requests(update, promote),
        )
        if u
    ]
    return Notification(
        event=event,
        outcome=outcome,
        style=style,
        icon=icon,
        title=title,
        service=service,
        stage=stage_name,
        environment=str(env) if env else None,
        facts=facts,
        commit=commit,
        message=message,
        details=details,
        steps=steps,
        links=links,
        run_id=run_id(pipeline),
        target=environment or pipeline.deployment_environment,
    )
