"""The results later steps and the cards read, below the steps (each step module re-exports its own).

Each is the step's one result dataclass: what the step returns (and ``--json`` prints) and, in
its :func:`~pipekit.core.recorded.recorded` fields, what goes into the run record
(``steps.<SECTION>.outputs``) for later steps, read back with ``X.read(record)``. Jira's result
lives in :mod:`pipekit.jira.release`, notify's in :mod:`pipekit.channels.delivery`, rollback's in
its step (nothing reads it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pipekit.core.recorded import RECORDED, Recorded, record


# -- the results later steps read ----------------------------------------------------------------
@dataclass
class BuildResult(Recorded):
    SECTION: ClassVar[str] = "build"

    image: str | None = field(default=None, metadata=RECORDED)  # repository name without tag
    tags: list[str] = field(default_factory=list, metadata=record(value=lambda r: r.tags or None))
    image_ref: str | None = field(default=None, metadata=RECORDED)  # first image:tag
    image_id: str | None = field(default=None, metadata=RECORDED)
    version: str | None = field(default=None, metadata=RECORDED)
    source_commit: str | None = field(default=None, metadata=RECORDED)
    source_committed_at: str | None = field(default=None, metadata=RECORDED)
    tests: dict[str, Any] = field(
        default_factory=dict, metadata=record(value=lambda r: r.tests or None)
    )  # the test summary
    container_tool: str | None = field(
        default=None, metadata=record(value=lambda r: r.container_tool if r.image_id else None)
    )
    labels: dict[str, str] = field(default_factory=dict, metadata=record(value=lambda r: r.labels or None))
    maven_argv: list[str] = field(default_factory=list)
    junit_out: str | None = field(default=None, metadata=RECORDED)


@dataclass
class ScanResult(Recorded):
    SECTION: ClassVar[str] = "scan"

    summary: dict[str, Any] = field(metadata=RECORDED)
    blocking: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    expired_suppressions: list[dict[str, Any]] = field(default_factory=list)
    sarif_out: str | None = None
    junit_out: str | None = None
    annotations_sent: int | None = None


def _after_push(r: Any, value: Any) -> Any:
    return value if r.digests else None  # every tag has its digest once the tags are pushed (or skipped)


@dataclass
class EcrPushResult(Recorded):
    SECTION: ClassVar[str] = "ecr_push"

    repository: str = field(metadata=RECORDED)
    registry: str = field(metadata=RECORDED)
    image_uri: str = field(metadata=RECORDED)
    digest: str | None = field(metadata=RECORDED)
    tags: list[str] = field(metadata=RECORDED)
    skipped: list[str] = field(
        default_factory=list, metadata=record(value=lambda r: _after_push(r, r.skipped))
    )
    pushed: list[str] = field(default_factory=list, metadata=record(value=lambda r: _after_push(r, r.pushed)))
    overwritten: list[str] = field(
        default_factory=list, metadata=record(value=lambda r: _after_push(r, r.overwritten))
    )
    digests: dict[str, str] = field(
        default_factory=dict, metadata=record(value=lambda r: _after_push(r, r.digests))
    )
    region: str = field(default="", metadata=RECORDED)
    ecr_repository_uri: str | None = field(default=None, metadata=RECORDED)
    created_repository: bool = False
    scan: dict[str, Any] | None = field(default=None, metadata=RECORDED)
    scan_report: str | None = field(default=None, metadata=RECORDED)
    login: dict[str, Any] | None = field(
        default=None, metadata=record(state=True)
    )  # the registry login, reused while valid
    signature: dict[str, Any] | None = None  # what --sign signed and attached (recorded in its own section)


WriteStatus = Literal["pushed", "unchanged", "dry-run"]  # a GitOps write: pushed, nothing to do, or a dry run
StoppedWrite = Literal["not-pushed", "unknown"]  # a write a signal stopped: it did not land, or nobody knows
PullRequestStatus = Literal[
    "opened", "open", "merged"
]  # --via pull-request: opened now, already open, merged
UpdateTagStatus = Literal[
    WriteStatus, StoppedWrite, PullRequestStatus, "superseded"
]  # superseded: a newer build wrote the entry


def _deployable(r: Any) -> str | None:
    """The revision wait-for-argocd waits for: none for a dry run, or when the push did not land."""
    return (
        r.gitops_revision
        if r.status in ("pushed", "unchanged", "superseded", "merged") and r.gitops_revision
        else None
    )


@dataclass
class UpdateTagResult(Recorded):
    SECTION: ClassVar[str] = "update_tag"

    status: UpdateTagStatus = field(metadata=RECORDED)  # after a signal: pushed, not-pushed or unknown
    gitops_repo: str = field(metadata=RECORDED)
    gitops_revision: str = field(metadata=record(value=_deployable))
    environment: str | None = field(metadata=RECORDED)
    service: str | None = field(metadata=RECORDED)
    image: str = field(metadata=RECORDED)
    tag: str | None = field(metadata=RECORDED)
    digest: str | None = field(metadata=RECORDED)
    overlay: str = field(metadata=RECORDED)
    old: dict[str, Any] | None = None
    retries: int | None = field(default=0, metadata=RECORDED)  # None: interrupted before it was known
    diff: str = ""
    message: str = ""
    workloads: list[str] = field(default_factory=list)
    pull_request: dict[str, Any] | None = field(
        default=None, metadata=RECORDED
    )  # --via pull-request: id, url, state...


@dataclass
class PromoteResult(Recorded):
    SECTION: ClassVar[str] = "promote"

    source: str = field(metadata=record(key="from"))
    target: str = field(metadata=record(key="to"))
    status: WriteStatus | StoppedWrite | PullRequestStatus | None = field(
        default=None, metadata=RECORDED
    )  # None: the promotion did not get that far
    rule: str | None = field(default=None, metadata=RECORDED)
    gitops_revision: str | None = field(
        default=None,
        metadata=record(
            value=lambda r: r.gitops_revision if r.status != "dry-run" and r.gitops_revision else None
        ),
    )
    services: list[str] | None = field(default=None, metadata=RECORDED)  # promoted in this commit
    skipped: dict[str, str] | None = field(
        default=None, metadata=RECORDED
    )  # service -> why (already there, superseded)
    images: dict[str, str] | None = field(
        default=None, metadata=RECORDED
    )  # service -> image reference promoted
    retries: int = 0
    diff: str = ""
    # --via pull-request, one per service: service, environment, branch, id, url, state,
    # merge_commit (once merged)
    pull_requests: list[dict[str, Any]] | None = field(default=None, metadata=RECORDED)
    notes: dict[str, Any] | None = field(
        default=None, metadata=RECORDED
    )  # release notes: commits, jira, lines, more, services, file


@dataclass
class RollbackResult(Recorded):
    SECTION: ClassVar[str] = "rollback"

    status: WriteStatus | StoppedWrite | PullRequestStatus = field(metadata=RECORDED)
    service: str = field(metadata=RECORDED)
    environment: str = field(metadata=RECORDED)
    rollback_of: str = field(metadata=RECORDED)  # the GitOps commit that deployed what ran before
    from_version: str
    to_version: str
    tag: str | None = field(metadata=RECORDED)
    digest: str | None = field(metadata=RECORDED)
    gitops_revision: str = field(
        metadata=record(
            value=lambda r: (
                r.gitops_revision if r.status in ("pushed", "merged") and r.gitops_revision else None
            )
        )
    )
    diff: str = ""
    previously_deployed: bool = True
    pull_request: dict[str, Any] | None = field(default=None, metadata=RECORDED)  # --via pull-request


@dataclass
class AppOutcome:
    name: str
    sync: str = ""
    health: str = ""
    revision: str = ""
    phase: str = ""
    hooks: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "waiting"
    missing: list[str] = field(default_factory=list)
    message: str = ""

    def brief(self) -> dict[str, Any]:
        """What the run record keeps of it."""
        return {
            "name": self.name,
            "sync": self.sync,
            "health": self.health,
            "revision": self.revision,
            "phase": self.phase,
            "hooks": self.hooks,
        }


def _apps_read(written: Any) -> list[AppOutcome]:
    names = {f.name for f in dataclasses.fields(AppOutcome)}
    return (
        [
            AppOutcome(**{k: v for k, v in a.items() if k in names})
            for a in written
            if isinstance(a, dict) and a.get("name")
        ]
        if isinstance(written, list)
        else []
    )


@dataclass
class WaitResult(Recorded):
    SECTION: ClassVar[str] = "wait_for_argocd"

    revision: str = field(metadata=RECORDED)
    apps: list[AppOutcome] = field(
        metadata=record(value=lambda r: [a.brief() for a in r.apps], read=_apps_read)
    )
    waited_s: float = 0.0
    server: str = ""


PostSyncStatus = Literal[
    "passed", "flaky", "skipped", "failed", "command-failed", "not-ready", "bad-input", "timed-out"
]


@dataclass
class PostSyncTestResult(Recorded):
    SECTION: ClassVar[str] = "post_sync_test"

    suite: str = field(metadata=RECORDED)
    result: PostSyncStatus = field(metadata=RECORDED)
    environment: str | None = field(default=None, metadata=RECORDED)
    gitops_revision: str | None = field(default=None, metadata=RECORDED)
    namespace: str | None = field(default=None, metadata=RECORDED)
    workloads: list[str] = field(default_factory=list, metadata=RECORDED)  # kind/name waited for
    ready_s: float | None = field(
        default=None, metadata=RECORDED
    )  # how long until every workload (and health URL) was ready
    exit_code: int | None = field(
        default=None, metadata=RECORDED
    )  # the suite command's (last attempt's) exit code
    attempts: int = field(default=0, metadata=RECORDED)  # runs of the command (1 + reruns of failed tests)
    tests: dict[str, Any] = field(
        default_factory=dict, metadata=record(value=lambda r: r.tests or None)
    )  # total, passed, ...
    summary_url: str | None = field(default=None, metadata=RECORDED)  # the summary JSON on S3 (https link)
    reports_url: str | None = field(
        default=None, metadata=RECORDED
    )  # the folder of JUnit files on S3 (s3:// URI)
    message: str = field(default="", metadata=record(value=lambda r: r.message or None))


@dataclass
class SbomResult(Recorded):
    SECTION: ClassVar[str] = "sbom"

    path: str = field(metadata=RECORDED)  # the CycloneDX JSON written
    components: int = field(metadata=RECORDED)  # components listed (Maven dependencies, OS packages, jars)
    spec_version: str = field(metadata=RECORDED)
    generator: str = field(metadata=RECORDED)  # e.g. "cdxgen 12.8.4"
    maven: bool
    image: str | None = field(default=None, metadata=RECORDED)  # the image it describes, when one was listed
    image_id: str | None = field(default=None, metadata=RECORDED)
    parts: dict[str, int] = field(default_factory=dict)  # maven / image -> components each listed
