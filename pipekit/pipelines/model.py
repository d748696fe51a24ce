"""What a ``bitbucket-pipelines.yml`` says, as plain data (built by :mod:`pipekit.pipelines.parse`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.pipelines.document import Document

DEFAULT_IMAGE = "atlassian/default-image:latest"  # Atlassian's documented default build image
DEFAULT_MAX_TIME_MIN = 120
DEFAULT_CLONE_DEPTH = 50


@dataclass(frozen=True)
class Image:
    name: str
    run_as_user: int | None = None
    aws_oidc_role: str | None = None  # pulled from ECR with the step's OIDC token
    credentials: bool = False  # username/password or AWS keys: a private registry


@dataclass(frozen=True)
class Clone:
    enabled: bool = True
    depth: int | None = DEFAULT_CLONE_DEPTH  # None: the full history
    lfs: bool = False


@dataclass(frozen=True)
class CacheDef:
    name: str
    path: str  # "~/..." under the home folder, else relative to the clone (or absolute)
    key_files: tuple[str, ...] = ()
    predefined: bool = False


@dataclass(frozen=True)
class ServiceDef:
    name: str
    image: Image | None
    variables: dict[str, str] = field(default_factory=dict)
    docker: bool = False  # the Docker daemon service (``docker``, or ``type: docker``)


@dataclass(frozen=True)
class Upload:
    name: str
    paths: tuple[str, ...]
    type: str = "shared"  # shared | scoped | test-reports
    capture_on: str = "success"  # success | failed | always
    ignore_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifacts:
    paths: tuple[str, ...] = ()  # shared, unnamed
    uploads: tuple[Upload, ...] = ()
    download: bool | tuple[str, ...] = True  # a tuple: only the named artifacts


@dataclass(frozen=True)
class Condition:
    include_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipe:
    pipe: str
    variables: dict[str, Any] = field(default_factory=dict)


Command = str | Pipe


@dataclass
class Step:
    name: str | None
    script: tuple[Command, ...]
    line: int
    after_script: tuple[Command, ...] = ()
    image: Image | None = None
    caches: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    artifacts: Artifacts = field(default_factory=Artifacts)
    clone: Clone | None = None  # the step's own clone settings, else the file's
    deployment: str | None = None
    manual: bool = False
    max_time: int | None = None  # minutes
    oidc: bool = False
    condition: Condition | None = None
    fail_fast: bool | None = None
    notes: tuple[str, ...] = ()  # settings read but not emulated (size, runs-on)


@dataclass
class Parallel:
    steps: list[Step]
    line: int
    fail_fast: bool = False


@dataclass
class Stage:
    name: str | None
    steps: list[Step]
    line: int
    deployment: str | None = None
    manual: bool = False
    condition: Condition | None = None


Item = Step | Parallel | Stage


@dataclass(frozen=True)
class CustomVariable:
    name: str
    default: str | None = None
    allowed: tuple[str, ...] = ()


@dataclass
class Pipeline:
    section: str  # default | branches | tags | bookmarks | pull-requests | custom
    pattern: str | None
    items: list[Item]
    line: int
    variables: list[CustomVariable] = field(default_factory=list)
    destinations: dict[str, Pipeline] = field(default_factory=dict)  # pull-requests by destination

    @property
    def label(self) -> str:
        return self.section if self.pattern is None else f"{self.section}: {self.pattern}"


@dataclass
class PipelineFile:
    path: Path
    document: Document
    image: Image | None = None
    clone: Clone = field(default_factory=Clone)
    max_time: int = DEFAULT_MAX_TIME_MIN
    docker_everywhere: bool = False  # options: docker: true
    caches: dict[str, CacheDef] = field(default_factory=dict)
    services: dict[str, ServiceDef] = field(default_factory=dict)
    default: Pipeline | None = None
    branches: dict[str, Pipeline] = field(default_factory=dict)
    tags: dict[str, Pipeline] = field(default_factory=dict)
    bookmarks: dict[str, Pipeline] = field(default_factory=dict)
    pull_requests: dict[str, Pipeline] = field(default_factory=dict)
    custom: dict[str, Pipeline] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def steps_of(items: list[Item]) -> list[Step]:
    out: list[Step] = []
    for item in items:
        out.extend(item.steps if isinstance(item, (Parallel, Stage)) else [item])
    return out
