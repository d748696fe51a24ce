"""``pipekit rehearse``: run the whole platform for real, locally, on embedded defaults.

Nothing leaves the machine and nothing needs configuring. In a temporary folder the embedded
sample service becomes a git repository onboarded by ``pipekit init`` into an empty GitOps
repository (:mod:`pipekit.rehearsal.prepare`); then the real steps run through their library API
on one run record and one ``pipekit.yaml``, as Bitbucket steps would hand them on
(:mod:`pipekit.rehearsal.stages`): build, scan, ecr-push, update-tag and wait-for-argocd with its
PostSync hook run as a real ``pipekit post-sync-test``, then a promotion into each later
environment as its rule says, then dora and history. Every stage is announced to an in-process
webhook sink and each card is shown as it arrived; a summary card ends the job
(:mod:`pipekit.rehearsal.running`). ``--config FILE`` rehearses the user's own settings.

A stage whose module or tool is missing is reported and skipped, and so are the stages that need
its outputs. Every server started and every image built is stopped or removed at the end, also
after a failure or Ctrl-C; ``--keep`` keeps the folder (run record, repos, registry storage).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

from pipekit.core.options import option, resolve
from pipekit.core.runrecord import Status
from pipekit.core.step import StepContext, step_command
from pipekit.images import Tool
from pipekit.rehearsal import failures, report, running
from pipekit.rehearsal.prepare import prepare
from pipekit.rehearsal.report import RehearseResult, StageOutcome
from pipekit.rehearsal.stages import STAGES, Rehearsal, Stage

__all__ = ["STAGES", "RehearseOptions", "RehearseResult", "Rehearsal", "Stage", "StageOutcome", "main", "options_from",
           "run"]

Channel = Literal["teams", "slack"]


def _channels(given: list[Channel] | None) -> tuple[str, ...]:
    return tuple(given or ()) or get_args(Channel)


@dataclass
class RehearseOptions:
    only: str | None = option(flag="--stages", metavar="A,B",
                              help="Run only these stages (build, scan, ecr_push, update_tag, wait_for_argocd).")
    skip: str | None = option(flag="--skip", metavar="A,B",
                              help="Skip these stages (a stage needing a skipped one is skipped too).")
    container_tool: Tool = option("buildah", flag="--container-tool", env="PIPEKIT_CONTAINER_TOOL",
                                  help="Image builder and pusher.")
    keep: bool = option(False, flag="--keep", help="Keep the work folder and list where each artifact is (run "
                        "record, cards, SARIF, JUnit, ...).")
    workdir: Path | None = option(flag="--workdir", metavar="DIR",  # default: a new temporary folder
                                  help="Work in DIR (empty, new, or a previous rehearsal's) instead of a temporary "
                                       "folder.")
    card_renderer_dir: Path | None = option(env="PIPEKIT_CARD_RENDERER_DIR", help="Where the Adaptive Cards "
                                            "renderer is installed [default: ~/.cache/pipekit/card-renderer].")
    fail_at: failures.FailAt | None = option(flag="--fail-at", help="Make this stage fail for real, to see what a "
                                             "failure looks like (exit 1).")
    # --config FILE (every step's: else PIPEKIT_CONFIG, else ./pipekit.yaml) is the settings rehearsed
    channels: tuple[str, ...] = option(flag="--channel", kind=list[Channel], convert=_channels,
                                       help="Rehearse only these channels [default: both].")
    stages: list[Stage] | None = None  # the stages --stages and --skip leave (default: every stage)
    config: Path | None = None  # the user's pipekit.yaml to rehearse (default: the one pipekit init writes)


def run(options: RehearseOptions, ctx: StepContext) -> RehearseResult:
    """Rehearse the main job, show the summary; a failed stage is exit 1 (``CheckFailed`` carrying the result)."""
    from pipekit.core.errors import CheckFailed

    result = rehearse(ctx, stages=options.stages, keep=options.keep, channels=options.channels,
                      container_tool=options.container_tool, workdir=options.workdir, fail_at=options.fail_at,
                      card_renderer_dir=options.card_renderer_dir, config=options.config)
    report.summary(ctx.console, result)
    for problem in result.cleanup_problems:
        ctx.console.warn(f"clean-up: {problem}")
    if result.fail_at:
        wanted = result.fail_stage
        if result.failed_as_requested:
            raise CheckFailed(f"rehearsal: {wanted} failed as requested (--fail-at {result.fail_at}: "
                              f"{failures.WHAT[result.fail_at]}); the stages after it did not run", result=result)
        raise CheckFailed(f"rehearsal: --fail-at {result.fail_at} was requested, but "
                          + (f"{wanted} did not fail" if result.ok else "another stage failed first (see above)"),
                          result=result)
    if not result.ok:
        raise CheckFailed("rehearsal: a stage failed (see above)", result=result)
    skipped = [s.name for s in result.stages if s.status is Status.SKIPPED]
    if skipped:
        ctx.console.warn(f"rehearsal finished, but {len(skipped)} stage(s) did not run: {', '.join(skipped)} (see above)")
    else:
        ctx.console.success("rehearsal finished")
    return result


def rehearse(ctx: StepContext, *, stages: list[Stage] | None = None, keep: bool = False,
             channels: tuple[str, ...] = ("teams", "slack"), container_tool: str = "buildah",
             workdir: Path | None = None, fail_at: str | None = None,
             card_renderer_dir: Path | None = None, config: Path | None = None) -> RehearseResult:
    """Rehearse the main job in ``workdir`` (a temporary folder by default) with the settings of
    ``config`` (default: what ``pipekit init`` writes); notifications go to an in-process sink,
    their payloads to ``<workdir>/cards``."""
    from pipekit.core import signals
    from pipekit.rehearsal import workspace
    from pipekit.testing.sink import WebhookSink

    started = time.monotonic()
    chosen = list(STAGES if stages is None else stages)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="pipekit-rehearse-"))
        made = True
    else:
        made = report.prepare_workdir(workdir.resolve())
        workdir = workdir.resolve()
    result = RehearseResult(service=workspace.SERVICE, workdir=str(workdir), fail_at=fail_at, kept=keep,
                            fail_stage=failures.stage_for(fail_at, chosen) if fail_at else "")
    servers = workspace.Servers(workdir)
    stop_on_signals = signals.installed()  # SIGTERM (a CI timeout, kill) unwinds, so the clean-up runs
    stop_on_signals.__enter__()
    try:
        with WebhookSink() as sink:
            r = prepare(ctx, workdir, sink, servers, chosen, channels=channels, container_tool=container_tool,
                         fail_at=fail_at, fail_stage=result.fail_stage, config=config)
            ctx.console.info(f"Rehearsing the main job for {r.service} at {r.short_sha} in {workdir} "
                             f"(webhook sink {sink.base_url})")
            running.notify(r, result, "started", "pipeline")
            done = running.run_stages(r, result, chosen)
            if done.get("update_tag") is Status.SUCCEEDED:
                running.dora(r, result)
            running.notify(r, result, "summary", "pipeline")
        renderer_env = {**ctx.env, **({"PIPEKIT_CARD_RENDERER_DIR": str(card_renderer_dir)} if card_renderer_dir else {})}
        page, result.card_page_note = report.card_page(result.cards, workdir / "cards", renderer_env)
        result.card_page = str(page)
    finally:
        result.cleanup_problems = servers.close()
        stop_on_signals.__exit__(None, None, None)
        if not keep:
            report.remove(workdir, created=made)
        result.duration_s = round(time.monotonic() - started, 2)
    return result


def select(only: str | None, skip: str | None, planned: list[Stage] | None = None) -> list[Stage]:
    from pipekit.core.errors import BadInput

    every = STAGES if planned is None else planned
    names = [s.name for s in every]

    def parse(value: str, flag: str) -> list[str]:
        wanted = [n.strip().replace("-", "_") for n in value.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise BadInput(f"{flag} {value!r}: unknown stage {', '.join(unknown)}; stages are {', '.join(names)}")
        return wanted

    keep = parse(only, "--stages") if only else names
    dropped = parse(skip, "--skip") if skip else []
    return [s for s in every if s.name in keep and s.name not in dropped]


@step_command("rehearse", RehearseOptions,
              help="Run the main pipeline job locally, for real, on embedded defaults and local stand-ins.")
def main(ctx: StepContext, flags: dict[str, Any]) -> RehearseResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> RehearseOptions:
    from pipekit.core.errors import BadInput
    from pipekit.rehearsal import settings
    from pipekit.rehearsal.stages import plan

    resolved = resolve(RehearseOptions, ctx, flags)
    o = resolved.options
    config = ctx.config.path  # --config FILE, PIPEKIT_CONFIG, or ./pipekit.yaml, as for every step
    planned = None
    if config:  # the stages follow the file's environments, each checked before anything is made
        base = settings.read_base(config)
        settings.environments_of(base, str(config))
        planned = plan(base.get("environments") or {})
        configured = (base.get("notify") or {}).get("channels") or []
        if configured and resolved.given("channels") and not any(c.get("type") in o.channels for c in configured):
            raise BadInput(f"--channel {','.join(o.channels)}: {config} configures no channel of that type "
                           f"(notify.channels: {', '.join(str(c.get('name')) for c in configured)})")
    stages = select(o.only, o.skip, planned)
    if o.fail_at:
        wanted = failures.stage_for(o.fail_at, planned or STAGES)
        if not wanted:
            raise BadInput(f"--fail-at {o.fail_at}: no environment of {config} has a jira gate to fail")
        if wanted not in [s.name for s in stages]:
            raise BadInput(f"--fail-at {o.fail_at}: its stage {wanted} is not in this rehearsal "
                           f"({', '.join(s.name for s in stages)}); drop it from --skip or add it to --stages")
    return replace(o, stages=stages, config=config)


if __name__ == "__main__":
    main()
