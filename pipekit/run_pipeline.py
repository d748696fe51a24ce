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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core import signals
from pipekit.core.errors import CheckFailed
from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command
from pipekit.pipelines.results import RunPipelineResult, StepResult

__all__ = ["RunPipelineOptions", "RunPipelineResult", "StepResult", "main", "options_from", "run"]


@dataclass(kw_only=True)
class RunPipelineOptions:
    file: Path = option(Path("bitbucket-pipelines.yml"), argument=True, metavar="[FILE]",
                        help="The pipeline file [default: ./bitbucket-pipelines.yml].")
    trigger: str = option("", flag="--trigger", metavar="KIND:NAME",
                          help="branch:NAME, tag:NAME, pr:SOURCE:DEST, custom:NAME or default "
                               "[default: branch:<the checkout's branch>].")
    commit: str = option("HEAD", flag="--commit", help="The commit to run (it must be committed).")
    variables: list[Path] = option(default_factory=list, flag="--variables", metavar="FILE",
                                   help="Workspace, repository and deployment variables (YAML, JSON or .env); "
                                        "repeatable, later files win.")
    var: list[str] = option(default_factory=list, flag="--var", metavar="NAME=VALUE", help="A custom pipeline's variable (repeatable).")
    approve: list[str] = option(default_factory=list, flag="--approve", metavar="STEP_OR_ENV",
                                help="Run this manual step (its name, number or deployment environment).")
    from_step: str | None = option(flag="--from", metavar="STEP",
                                   help="Start at this step, with the artifacts the earlier run in --workdir kept.")
    until: str | None = option(flag="--until", metavar="STEP", help="Stop after this step.")
    image_map: list[str] = option(default_factory=list, flag="--image-map", metavar="IMAGE=LOCAL",
                                  help="Run steps (or a pipe, or a service) that name IMAGE in the local image LOCAL.")
    workdir: Path | None = option(flag="--workdir", metavar="DIR",
                                  help="Keep logs, artifacts and the run's state here [default: a temporary folder].")
    keep: bool = option(False, flag="--keep", help="Keep each step's clone (and a temporary workdir).")
    cache_dir: Path | None = option(flag="--cache-dir", env="PIPEKIT_CACHE_DIR", metavar="DIR",
                                    help="Where caches live between runs [default: ~/.cache/pipekit/run-pipeline/"
                                         "<repository>].")
    clear_caches: bool = option(False, flag="--clear-caches", help="Delete the caches before running.")
    explain: bool = option(False, flag="--explain", help="Print what is emulated and how, then stop.")
    ask: bool = True  # a manual step prompts when stdin is a terminal (the Python API may turn it off)


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
    executor = Executor(prepared.ctx, prepared.plan, approvals=list(options.approve), start_at=prepared.start_at,
                        until=prepared.until, prompt=prompt, on_step=lambda step: prepared.save_state(executor))
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


@step_command("run-pipeline", RunPipelineOptions,
              help="Run a bitbucket-pipelines.yml here the way Bitbucket runs it (--explain: what is emulated).")
def main(ctx: StepContext, flags: dict[str, Any]) -> Any:
    options = options_from(ctx, flags)
    if options.explain:
        return explain(ctx)
    return run(options, ctx)


if __name__ == "__main__":
    main()
