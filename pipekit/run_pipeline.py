"""``pipekit run-pipeline``: run a repository's bitbucket-pipelines.yml here, the way Bitbucket runs it.

Each step gets a fresh clone of the commit, its image (a local one, run with buildah), only the
artifacts earlier steps declared, its caches, its own ``docker`` service and only the variables
Bitbucket would give it. ``--explain`` tells what is emulated and what differs from Bitbucket
Cloud. Exit 0 when the pipeline passed or paused at a manual step, 1 when a step failed (or no
pipeline matches the trigger), 2 for a file Bitbucket would refuse or bad options.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pipekit.core import signals
from pipekit.core.errors import CheckFailed
from pipekit.core.options import resolve
from pipekit.core.step import StepContext, step_command
from pipekit.pipelines.results import RunPipelineResult, StepResult
from pipekit.pipelines.settings import RunPipelineOptions

__all__ = ["RunPipelineOptions", "RunPipelineResult", "StepResult", "main", "options_from", "run"]


def run(options: RunPipelineOptions, ctx: StepContext) -> RunPipelineResult:
    from pipekit.pipelines import launch

    with signals.installed():
        prepared = launch.prepare(options, ctx)
        try:
            return _execute(prepared, options, ctx)
        finally:
            if prepared.ctx.seeds is not None:
                prepared.ctx.seeds.remove()
            prepared.folder.close()


def _execute(prepared: Any, options: RunPipelineOptions, ctx: StepContext) -> RunPipelineResult:
    from pipekit.pipelines import report
    from pipekit.pipelines.executor import Executor

    result: RunPipelineResult = prepared.result
    began = time.monotonic()
    prompt = _prompt(ctx) if options.ask and sys.stdin.isatty() and not ctx.console.json_mode else None
    executor = Executor(
        prepared.ctx,
        prepared.plan,
        approvals=list(options.approve),
        start_at=prepared.start_at,
        until=prepared.until,
        prompt=prompt,
        on_step=lambda step: prepared.save_state(executor),
    )
    try:
        outcome = executor.run()
    except BaseException:
        result.steps, result.status = executor.steps(), "stopped"
        prepared.save_state(executor)
        raise
    finally:
        result.duration_s = round(time.monotonic() - began, 3)
    result.steps, result.status = outcome.steps, outcome.status
    result.paused_at, result.failed_step = outcome.paused_at, outcome.failed_step
    prepared.save_state(executor)
    report.show(ctx.console, result)
    if result.status == "failed":
        raise CheckFailed(f"step {result.failed_step!r} failed", result=result)
    return result


def _prompt(ctx: StepContext) -> Any:
    import click

    def ask(planned: Any) -> bool:
        where = f" (deployment {planned.deployment})" if planned.deployment else ""
        return bool(click.confirm(f"Run the manual step {planned.label!r}{where}?", default=False, err=True))

    return ask


def explain(ctx: StepContext) -> dict[str, Any]:
    from pipekit.pipelines import explain as table

    if not ctx.console.json_mode:
        ctx.console.print(table.text())
    return {"emulation": [{"what": w, "emulated": h, "differs": d} for w, h, d in table.ROWS]}


def options_from(ctx: StepContext, flags: dict[str, Any]) -> RunPipelineOptions:
    return resolve(RunPipelineOptions, ctx, flags).options


@step_command(
    "run-pipeline",
    RunPipelineOptions,
    help="Run a bitbucket-pipelines.yml here the way Bitbucket runs it (--explain: what is emulated).",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> Any:
    options = options_from(ctx, flags)
    if options.explain:
        return explain(ctx)
    return run(options, ctx)


if __name__ == "__main__":
    main()
