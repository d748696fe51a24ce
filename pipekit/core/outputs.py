"""What each step hands on through the run record, typed: one dataclass per step.

The run record (:mod:`pipekit.core.runrecord`) stores ``steps.<section>.outputs``; this module is
the only place that knows those keys. A step writes with ``record.recording(X.SECTION)`` and
``X(...).write_to(outputs)``; a later step or a card reads ``X.read(record)``, which carries the
step's :class:`~pipekit.core.runrecord.Status` so a reader can tell a failed run's leftovers
from a success (``.succeeded``). A key written under another name (``from`` is a keyword)
declares it with ``field(metadata={"key": "from"})``.

To add a step's outputs: one dataclass here with ``SECTION`` and its fields, nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pipekit.core.runrecord import Status

if TYPE_CHECKING:
    from pipekit.core.runrecord import RunRecord

T = TypeVar("T", bound="StepOutputs")


@dataclass
class StepOutputs:
    SECTION: ClassVar[str] = ""
    KEEP: ClassVar[tuple[str, ...]] = ()  # state kept across runs of the step (not cleared when it starts)

    status: Status | None = field(default=None, metadata={"record": False})

    @classmethod
    def _key(cls, f: dataclasses.Field[Any]) -> str:
        return str(f.metadata.get("key", f.name))

    @classmethod
    def read(cls: type[T], record: RunRecord) -> T:
        """This step's outputs as recorded (empty fields where it recorded nothing)."""
        section = record.step(cls.SECTION)
        raw = section.get("outputs")
        outputs = raw if isinstance(raw, dict) else {}
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get("record", True) and cls._key(f) in outputs:
                kwargs[f.name] = outputs[cls._key(f)]
        return cls(status=record.status(cls.SECTION), **kwargs)

    @property
    def succeeded(self) -> bool:
        return self.status is Status.SUCCEEDED

    def to_outputs(self) -> dict[str, Any]:
        """The record's ``outputs`` mapping (fields left at None are not written)."""
        return {self._key(f): getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata.get("record", True) and getattr(self, f.name) is not None}

    def write_to(self, outputs: dict[str, Any]) -> None:
        outputs.update(self.to_outputs())

    def describe_status(self) -> str:
        """``error``, ``running``... or ``not recorded``, for a message saying why outputs are not used."""
        return str(self.status) if self.status is not None else "not recorded"


@dataclass
class BuildOutputs(StepOutputs):
    SECTION: ClassVar[str] = "build"

    version: str | None = None
    source_commit: str | None = None
    source_committed_at: str | None = None
    tests: dict[str, Any] | None = None  # the test summary (counts, failed test names)
    junit_out: str | None = None
    image: str | None = None  # repository name without tag
    tags: list[str] | None = None
    image_ref: str | None = None  # first image:tag
    image_id: str | None = None
    container_tool: str | None = None
    labels: dict[str, str] | None = None


@dataclass
class ScanOutputs(StepOutputs):
    SECTION: ClassVar[str] = "scan"

    summary: dict[str, Any] | None = None


@dataclass
class EcrPushOutputs(StepOutputs):
    SECTION: ClassVar[str] = "ecr_push"
    KEEP: ClassVar[tuple[str, ...]] = ("login",)  # the registry login, reused while valid

    repository: str | None = None
    registry: str | None = None
    image_uri: str | None = None
    ecr_repository_uri: str | None = None
    region: str | None = None
    tags: list[str] | None = None
    digest: str | None = None
    digests: dict[str, str] | None = None
    skipped: list[str] | None = None
    pushed: list[str] | None = None
    overwritten: list[str] | None = None
    login: dict[str, Any] | None = None
    scan: dict[str, Any] | None = None
    scan_report: str | None = None


@dataclass
class UpdateTagOutputs(StepOutputs):
    SECTION: ClassVar[str] = "update_tag"

    gitops_repo: str | None = None
    gitops_revision: str | None = None
    environment: str | None = None
    service: str | None = None
    image: str | None = None
    tag: str | None = None
    digest: str | None = None
    overlay: str | None = None
    result: str | None = field(default=None, metadata={"key": "status"})  # pushed | unchanged | superseded | dry-run
    retries: int | None = None
    pull_request: dict[str, Any] | None = None  # --via pull-request: service, environment, branch, id, url, state


@dataclass
class PromoteOutputs(StepOutputs):
    SECTION: ClassVar[str] = "promote"

    source: str | None = field(default=None, metadata={"key": "from"})
    target: str | None = field(default=None, metadata={"key": "to"})
    services: list[str] | None = None
    skipped: dict[str, str] | None = None  # service -> why
    images: dict[str, str] | None = None  # service -> image reference promoted
    result: str | None = field(default=None, metadata={"key": "status"})  # pushed | unchanged | dry-run
    rule: str | None = None
    gitops_revision: str | None = None
    pull_requests: list[dict[str, Any]] | None = None  # service, environment, branch, id, url, state, merge_commit


@dataclass
class WaitForArgocdOutputs(StepOutputs):
    SECTION: ClassVar[str] = "wait_for_argocd"

    revision: str | None = None
    apps: list[dict[str, Any]] | None = None  # name, sync, health, revision, phase, hooks


@dataclass
class NotifyOutputs(StepOutputs):
    SECTION: ClassVar[str] = "notify"
    KEEP: ClassVar[tuple[str, ...]] = ("sent",)  # once-only marks survive every later run of notify

    sent: list[str] | None = None  # once-only keys (run, stage, event, channel)
    last: dict[str, Any] | None = None


@dataclass
class JiraGateOutputs(StepOutputs):
    SECTION: ClassVar[str] = "jira_gate"

    passed: bool | None = None
    project: str | None = None
    version: str | None = None
    require: str | None = None
    state: str | None = None  # released | unreleased | archived | missing
    reason: str | None = None
    issues: int | None = None  # issues checked
    blocking: list[dict[str, Any]] | None = None  # the first 20: key, summary, status, assignee, url, unblock
    blocking_count: int | None = None
    jira_url: str | None = None


@dataclass
class RollbackOutputs(StepOutputs):
    SECTION: ClassVar[str] = "rollback"

    service: str | None = None
    environment: str | None = None
    result: str | None = field(default=None, metadata={"key": "status"})  # pushed | unchanged | dry-run
    rollback_of: str | None = None
    tag: str | None = None
    digest: str | None = None
    gitops_revision: str | None = None
    pull_request: dict[str, Any] | None = None  # --via pull-request: service, environment, branch, id, url, state


@dataclass
class PostSyncTestOutputs(StepOutputs):
    SECTION: ClassVar[str] = "post_sync_test"

    suite: str | None = None
    environment: str | None = None
    gitops_revision: str | None = None
    namespace: str | None = None
    workloads: list[str] | None = None  # kind/name waited for
    ready_s: float | None = None  # how long until every workload (and health URL) was ready
    exit_code: int | None = None  # the suite command's (last attempt's) exit code
    attempts: int | None = None  # runs of the command (1 + reruns of failed tests)
    tests: dict[str, Any] | None = None  # total, passed, failed, errored, skipped, flaky, failing, flaky_tests
    result: str | None = None  # passed | flaky | failed | command-failed | not-ready | bad-input | timed-out
    message: str | None = None
    summary_url: str | None = None  # the summary JSON on S3 (https link)
    reports_url: str | None = None  # the folder of JUnit files on S3 (s3:// URI)


@dataclass
class SbomOutputs(StepOutputs):
    SECTION: ClassVar[str] = "sbom"

    path: str | None = None  # the CycloneDX JSON written
    components: int | None = None  # components listed (Maven dependencies, OS packages, jars)
    image: str | None = None  # the image it describes, when one was scanned
    image_id: str | None = None
    spec_version: str | None = None
    generator: str | None = None  # e.g. "cdxgen 12.8.4"


@dataclass
class SignOutputs(StepOutputs):
    SECTION: ClassVar[str] = "sign"

    digest: str | None = None
    repository: str | None = None
    registry: str | None = None
    identity: str | None = None  # critical.identity.docker-reference: the repository the cluster pulls
    key: str | None = None  # the key reference (a path, env://VAR, awskms:///ARN), never the key
    signature: str | None = None  # signed | already-signed
    signature_tag: str | None = None  # sha256-<hex>.sig
    attestations: dict[str, str] | None = None  # predicate type -> attested | already-attested
