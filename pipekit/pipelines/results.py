"""What a run produced: one record per step and one for the pipeline (the ``--json`` output)."""

from __future__ import annotations

from dataclasses import dataclass, field

# A step's status: passed, failed, timed-out (max-time), paused (a manual step not approved),
# skipped (its condition found no change, or --from/--until left it out), stopped (fail-fast, a
# signal), not-run (an earlier step failed or paused).
DONE = ("passed", "failed", "timed-out", "stopped")


@dataclass
class StepResult:
    number: int
    name: str
    key: str
    status: str = "not-run"
    reason: str | None = None
    duration_s: float = 0.0
    commands_s: float | None = None  # time the step's own commands took (script and after-script)
    exit_code: int | None = None
    after_script_exit_code: int | None = None
    execution: str | None = None  # image | host
    image: str | None = None  # as the pipeline names it
    local_image: str | None = None  # the local image it ran in (None: ran on this machine)
    deployment: str | None = None
    artifacts: list[str] = field(default_factory=list)  # files the step kept
    artifacts_restored: int = 0
    caches: dict[str, str] = field(default_factory=dict)  # name -> restored/missing, then saved/exists/empty
    services: list[str] = field(default_factory=list)
    log: str | None = None
    warnings: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: clone, image, artifacts, caches, ...

    @property
    def overhead_s(self) -> float | None:
        return None if self.commands_s is None else max(0.0, self.duration_s - self.commands_s)


@dataclass
class RunPipelineResult:
    file: str
    pipeline: str  # e.g. "branches: main"
    trigger: str
    commit: str
    build_number: int
    status: str = "passed"  # passed | failed | paused | stopped
    paused_at: str | None = None
    failed_step: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    duration_s: float = 0.0
    workdir: str | None = None  # kept folder (logs, artifacts, clones with --keep)
    cache_dir: str | None = None
    warnings: list[str] = field(default_factory=list)
