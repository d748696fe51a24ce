"""Walk the planned pipeline: steps in order, parallel groups at once, manual steps,
conditions, --from/--until.

A failed step ends the pipeline (later steps are not run); in a parallel group the others run to
their end unless the group has ``fail-fast``, which stops them. A manual step (or a manual
stage's first step) pauses the run unless ``--approve`` names it or its deployment environment,
or a person says yes at the prompt; a paused run can be continued with ``--from`` that step in the
same ``--workdir``. A step whose ``condition: changesets`` matches none of the commit's changes is
skipped. Parallel steps run in threads (at most the machine's core count at once); a signal stops
them all, waits for their clean-up, and goes on up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from pipekit.core import process
from pipekit.core.errors import Interrupted
from pipekit.pipelines import globs
from pipekit.pipelines.model import Condition
from pipekit.pipelines.plan import PlannedStep, approved, batches
from pipekit.pipelines.results import StepResult
from pipekit.pipelines.runcontext import RunContext
from pipekit.pipelines.stepexec import StepRun

Prompt = Callable[[PlannedStep], bool]


@dataclass
class PipelineOutcome:
    steps: list[StepResult]
    status: str = "passed"  # passed | failed | paused
    paused_at: str | None = None
    failed_step: str | None = None
    warnings: list[str] = field(default_factory=list)


def condition_holds(condition: Condition, changed: list[str]) -> bool:
    if condition.include_paths:
        return any(globs.matches(p, f) for f in changed for p in condition.include_paths)
    return any(not any(globs.matches(p, f) for p in condition.exclude_paths) for f in changed)


class Executor:
    def __init__(
        self,
        ctx: RunContext,
        plan: list[PlannedStep],
        *,
        approvals: list[str],
        start_at: PlannedStep | None = None,
        until: PlannedStep | None = None,
        prompt: Prompt | None = None,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.plan = plan
        self.approvals = approvals
        self.start_at = start_at
        self.until = until
        self.prompt = prompt
        self.on_step = on_step or (lambda result: None)
        self.results = {p.number: StepResult(p.number, p.label, p.key, deployment=p.deployment) for p in plan}
        self.available: list[str] = []  # steps whose artifacts later steps get, oldest first

    def run(self) -> PipelineOutcome:
        outcome = PipelineOutcome(steps=[])
        started = self.start_at is None
        reached_until = False
        for batch in batches(self.plan):
            if reached_until:
                self._mark(batch, "skipped", "after --until")
                continue
            if not started:
                if self.start_at not in batch:
                    self._mark(batch, "skipped", "before --from (its artifacts come from the earlier run)")
                    self.available.extend(p.key for p in batch if self.ctx.store.kept(p.key) is not None)
                    continue
                started = True
            if outcome.status != "passed":
                continue
            runnable = self._conditions(batch)
            if runnable and runnable[0].manual and not self._approved(runnable[0]):
                outcome.status = "paused"
                outcome.paused_at = runnable[0].label
                result = self.results[runnable[0].number]
                result.status, result.reason = "paused", "a manual step: continue with --approve or --from"
                self.ctx.console.info(f"── paused before {runnable[0].label!r} (trigger: manual)")
                continue
            done = (
                self._run_one(runnable[0])
                if len(runnable) == 1
                else self._run_group(runnable)
                if runnable
                else []
            )
            self.available.extend(r.key for r in done if r.status == "passed")
            failed = [r for r in done if r.status != "passed"]
            if failed:
                outcome.status = "failed"
                outcome.failed_step = failed[0].name
            reached_until = self.until is not None and self.until in batch
        outcome.steps = self.steps()
        return outcome

    def steps(self) -> list[StepResult]:
        return [self.results[p.number] for p in self.plan]

    def _mark(self, batch: list[PlannedStep], status: str, reason: str) -> None:
        for planned in batch:
            result = self.results[planned.number]
            result.status, result.reason = status, reason

    def _conditions(self, batch: list[PlannedStep]) -> list[PlannedStep]:
        runnable = []
        for planned in batch:
            condition = planned.condition
            if condition is not None and not condition_holds(condition, self.ctx.changed_files()):
                self._mark([planned], "skipped", "condition: no change matches its changesets")
                self.ctx.console.info(f"── {planned.label}: skipped (no change matches its changesets)")
            else:
                runnable.append(planned)
        return runnable

    def _approved(self, planned: PlannedStep) -> bool:
        if planned is self.start_at or approved(planned, self.approvals):
            return True
        return bool(self.prompt and self.prompt(planned))

    def _run_one(
        self, planned: PlannedStep, prefix: str = "", stop: threading.Event | None = None
    ) -> list[StepResult]:
        total = len(self.plan)
        if not prefix:
            self.ctx.console.info(f"── step {planned.number}/{total}: {planned.label}")
        step_run = StepRun(self.ctx, planned, list(self.available), prefix=prefix, stop=stop)
        self.results[planned.number] = step_run.result
        result = step_run.run()
        self._told(result)
        return [result]

    def _told(self, result: StepResult) -> None:
        self.on_step(result)
        line = f"── {result.name}: {result.status} in {result.duration_s:.1f} s"
        self.ctx.console.info(
            line + (f" ({result.reason})" if result.reason and result.status != "passed" else "")
        )

    def _run_group(self, group: list[PlannedStep]) -> list[StepResult]:
        self.ctx.console.info("── parallel: " + ", ".join(f"{p.number} {p.label}" for p in group))
        stop = threading.Event()
        workers = max(1, min(len(group), os.cpu_count() or 1))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipekit-step")
        futures: dict[Future[list[StepResult]], PlannedStep] = {
            pool.submit(self._run_one, p, f"[{p.label}] ", stop): p for p in group
        }
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    planned = futures[future]
                    if (
                        future.exception() is None
                        and future.result()[0].status != "passed"
                        and planned.fail_fast
                    ):
                        stop.set()
        except (Interrupted, KeyboardInterrupt):
            self.ctx.stopping.set()
            stop.set()
            process.stop_all()
            wait(pending)  # each step cleans up after itself
            raise
        finally:
            pool.shutdown(wait=True)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        return [self.results[p.number] for p in group]
