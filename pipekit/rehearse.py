"""``pipekit rehearse``: run the main pipeline job for real, locally, on embedded defaults.

Nothing leaves the machine and nothing needs configuring. In a temporary folder the embedded
sample service becomes a git repository with one commit; then the real steps run through their
library API on one run record, as Bitbucket steps would hand it on: ``build`` (offline Maven and
an image with buildah), ``scan`` (the gate over an embedded report), ``ecr_push`` (moto for the
ECR API, Debian's docker-registry as the registry host), ``update_tag`` (a bare GitOps repo made
for the service) and ``wait_for_argocd`` (the Argo CD stand-in following that repo, rendering
with ``kubectl kustomize``, PostSync hook included). Every stage is announced to an in-process
webhook sink and each card is shown as it arrived; a summary card ends the job.

A stage whose module or tool is missing is reported and skipped, and so are the stages that need
its outputs. Every server started and every image built is stopped or removed at the end, also
after a failure or Ctrl-C; ``--keep`` keeps the folder (run record, repos, registry storage).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.options import Option, OptionTable
from pipekit.core.runrecord import Status
from pipekit.core.step import StepContext, step_command
from pipekit.rehearsal.stages import STAGES, Rehearsal, Stage, missing_tools

__all__ = ["STAGES", "RehearseOptions", "RehearseResult", "Rehearsal", "Stage", "StageOutcome", "main", "run"]

NOTE = "Rehearsal on embedded defaults: a sample service, built and deployed to local stand-ins only."

OPTIONS = OptionTable([
    Option("only", "--stages", metavar="A,B",
           help="Run only these stages (build, scan, ecr_push, update_tag, wait_for_argocd)."),
    Option("skip", "--skip", metavar="A,B", help="Skip these stages (a stage needing a skipped one is skipped too)."),
    Option("container_tool", "--container-tool", env="PIPEKIT_CONTAINER_TOOL", type="choice",
           choices=("buildah", "podman", "docker"), default="buildah", help="Image builder and pusher."),
    Option("keep", "--keep", type="bool", default=False,
           help="Keep the temporary folder (run record, repos, registry storage)."),
    Option("channels", "--channel", type="choice", choices=("teams", "slack"), multiple=True,
           help="Rehearse only these channels [default: both]."),
])


@dataclass
class RehearseOptions:
    stages: list[Stage] | None = None  # default: every stage
    keep: bool = False
    channels: tuple[str, ...] = ("teams", "slack")
    container_tool: str = "buildah"


@dataclass
class StageOutcome:
    name: str
    status: Status  # SUCCEEDED, FAILED, SKIPPED
    detail: str = ""
    duration_s: float = 0.0


@dataclass
class Sent:
    event: str
    stage: str
    channel: str
    status: str
    rendering: str = ""


@dataclass
class RehearseResult:
    service: str
    workdir: str
    stages: list[StageOutcome] = field(default_factory=list)
    notifications: list[Sent] = field(default_factory=list)
    duration_s: float = 0.0
    cleanup_problems: list[str] = field(default_factory=list)
    dora: str = ""  # the DORA report over what was deployed (table shown, HTML file in the work folder)
    history: str = ""  # pipekit history of the sample service (shown)

    @property
    def ok(self) -> bool:
        return all(s.status is not Status.FAILED for s in self.stages)


def missing_modules(stage: Stage) -> list[str]:
    missing = []
    for name in stage.requires:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ModuleNotFoundError:
            missing.append(name)
    return missing


KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "NO_COLOR", "TERM", "JAVA_HOME", "M2_HOME", "MAVEN_HOME",
            "XDG_RUNTIME_DIR", "CONTAINERS_STORAGE_CONF", "STORAGE_DRIVER", "BUILDAH_ISOLATION")


def local_env(commit: str, service: str, sink: Any, channels: tuple[str, ...]) -> dict[str, str]:
    """A Bitbucket-shaped environment for the sample's commit; no real webhook, token or cloud setting."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    env.update(
        BITBUCKET_COMMIT=commit,
        BITBUCKET_BRANCH="main",
        BITBUCKET_BUILD_NUMBER="1",
        BITBUCKET_REPO_SLUG=service,
        BITBUCKET_WORKSPACE="local",
        BITBUCKET_REPO_FULL_NAME=f"local/{service}",
        BITBUCKET_PIPELINE_UUID="{rehearsal-" + commit[:12] + "}",
        PIPEKIT_NOTIFY_TIMEOUT="5",
        PIPEKIT_NOTIFY_ATTEMPTS="2",
    )
    for kind in channels:
        env[f"PIPEKIT_{kind.upper()}_WEBHOOK_URL"] = sink.url(kind)
    return env


def _notify(r: Rehearsal, result: RehearseResult, event: str, stage: str, message: str = NOTE) -> None:
    from pipekit import notify
    from pipekit.cards import render

    before = len(r.sink.requests)
    ctx = r.context(quiet=True)  # the rehearsal's environment sets the timeout and attempts
    sent = notify.run(notify.options_from(ctx, {"event": event, "stage": stage, "message": message}), ctx)
    received = r.sink.wait_for(before + sum(d.status == "sent" for d in sent.deliveries), timeout=5)[before:]
    for d in sent.deliveries:
        req = next((q for q in received if q.channel == d.type), None)
        shown = render.payload(d.type, req.json) if req is not None else ""
        result.notifications.append(Sent(event, stage, d.channel, d.status, shown))
        r.console.info(f"--- {d.channel}: {event} ({stage}) -> {d.status}"
                       + (f", HTTP {req.status}, {len(req.body)} bytes" if req is not None else ""))
        if shown:
            r.console.info(shown)


def _record_failure(r: Rehearsal, name: str, exc: Exception, took: float) -> None:
    """A stage that failed outside its step's own recording (a stand-in, a rehearsal check) is failed
    in the run record too, so the summary card tells the truth."""
    from pipekit.core.masking import mask

    record = r.context(quiet=True).record
    if record.status(name) not in (Status.FAILED, Status.ERROR, Status.TIMED_OUT):
        record.update_step(name, status=Status.FAILED.value, duration_s=took, error=mask(f"{type(exc).__name__}: {exc}"))
        record.save()


def _dora(r: Rehearsal, result: RehearseResult) -> None:
    """The DORA report over what the rehearsal deployed (not a stage: it sends no notification)."""
    from pipekit.rehearsal.stages import dora_report

    try:
        result.dora = dora_report(r)
        r.console.info(result.dora)
    except Exception as exc:  # the report is a view of the run; the run itself succeeded
        r.console.warn(f"dora report: {type(exc).__name__}: {exc}")
    from pipekit.rehearsal.promotions import history_report

    try:
        result.history = history_report(r)
        r.console.info(result.history)
    except Exception as exc:  # a view of the run, as the dora report is
        r.console.warn(f"history: {type(exc).__name__}: {exc}")


def _why_skip(stage: Stage, r: Rehearsal, done: dict[str, Status]) -> str:
    missing = [f"{m} not available" for m in missing_modules(stage)] + missing_tools(stage, r.container_tool)
    if missing:
        return "; ".join(missing)
    unmet = [f"{n} ({done.get(n, 'not in this rehearsal')})" for n in stage.needs if done.get(n) is not Status.SUCCEEDED]
    return f"needs the outputs of {', '.join(unmet)}" if unmet else ""


def _stop_on_sigterm() -> Callable[[], None]:
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so the clean-up runs; returns the undo."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)

    def undo() -> None:
        signal.signal(signal.SIGTERM, previous)

    return undo


def run(options: RehearseOptions, ctx: StepContext) -> RehearseResult:
    """Rehearse the main job, show the table; a failed stage is exit 1 (``CheckFailed`` carrying the result)."""
    from pipekit.core.errors import CheckFailed

    result = rehearse(ctx, stages=options.stages, keep=options.keep, channels=options.channels,
                      container_tool=options.container_tool)
    rows = [(s.name, str(s.status), f"{s.duration_s:.1f} s" if s.status is not Status.SKIPPED else "", s.detail)
            for s in result.stages]
    ctx.console.table(["stage", "status", "time", "detail"], rows, title="Rehearsal")
    delivered = sum(n.status == "sent" for n in result.notifications)
    ctx.console.info(f"{delivered} notification(s) delivered to the local sink; nothing left this machine "
                     f"({result.duration_s:.1f} s in all).")
    for problem in result.cleanup_problems:
        ctx.console.warn(f"clean-up: {problem}")
    if options.keep:
        ctx.console.info(f"kept {result.workdir}")
    if not result.ok:
        raise CheckFailed("rehearsal: a stage failed (see above)", result=result)
    skipped = [s.name for s in result.stages if s.status is Status.SKIPPED]
    if skipped:
        ctx.console.warn(f"rehearsal finished, but {len(skipped)} stage(s) did not run: {', '.join(skipped)} (see above)")
    else:
        ctx.console.success("rehearsal finished")
    return result


def rehearse(ctx: StepContext, *, stages: list[Stage] | None = None, keep: bool = False,
             channels: tuple[str, ...] = ("teams", "slack"), container_tool: str = "buildah") -> RehearseResult:
    """Rehearse the main job in a temporary folder; notifications go to an in-process sink."""
    from pipekit.rehearsal import workspace
    from pipekit.rehearsal.stages import config_text
    from pipekit.testing.sink import WebhookSink

    started = time.monotonic()
    chosen = list(STAGES if stages is None else stages)
    workdir = Path(tempfile.mkdtemp(prefix="pipekit-rehearse-"))
    result = RehearseResult(service=workspace.SERVICE, workdir=str(workdir))
    servers = workspace.Servers(workdir)
    restore = _stop_on_sigterm()
    try:
        with WebhookSink() as sink:
            repo = workspace.service_repo(workdir, {k: v for k, v in os.environ.items() if k in KEPT_ENV})
            commit = workspace.git("rev-parse", "HEAD", cwd=repo)
            (workdir / "pipekit.yaml").write_text(config_text(workdir, workspace.SERVICE, container_tool), encoding="utf-8")
            r = Rehearsal(workdir, local_env(commit, workspace.SERVICE, sink, channels), sink, workspace.SERVICE, repo,
                          servers, ctx.console, container_tool, planned=tuple(s.name for s in chosen))
            ctx.console.info(f"Rehearsing the main job for {r.service} at {r.short_sha} in {workdir} "
                             f"(webhook sink {sink.base_url})")
            _notify(r, result, "started", "pipeline")
            done: dict[str, Status] = {}
            for stage in chosen:
                why = _why_skip(stage, r, done)
                if why:
                    done[stage.name] = Status.SKIPPED
                    result.stages.append(StageOutcome(stage.name, Status.SKIPPED, why))
                    ctx.console.warn(f"stage {stage.name}: skipped, {why}")
                    continue
                ctx.console.info(f"=== stage {stage.name}")
                t0 = time.monotonic()
                try:
                    detail = stage.run(r)
                except Exception as exc:  # a failing stage is the rehearsal's finding, reported like CI would
                    took = round(time.monotonic() - t0, 2)
                    _record_failure(r, stage.name, exc, took)
                    done[stage.name] = Status.FAILED
                    result.stages.append(StageOutcome(stage.name, Status.FAILED, f"{type(exc).__name__}: {exc}", took))
                    ctx.console.error(f"stage {stage.name} failed after {took:.1f} s: {exc}")
                    _notify(r, result, "failed", stage.name, message=f"{stage.name} failed: {exc}")
                    break
                took = round(time.monotonic() - t0, 2)
                done[stage.name] = Status.SUCCEEDED
                result.stages.append(StageOutcome(stage.name, Status.SUCCEEDED, detail, took))
                ctx.console.success(f"stage {stage.name}: {took:.1f} s: {detail}")
                _notify(r, result, stage.event_on_success, stage.name)
            if done.get("update_tag") is Status.SUCCEEDED:
                _dora(r, result)
            _notify(r, result, "summary", "pipeline")
    finally:
        result.cleanup_problems = servers.close()
        restore()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        result.duration_s = round(time.monotonic() - started, 2)
    return result


def select(only: str | None, skip: str | None) -> list[Stage]:
    from pipekit.core.errors import BadInput

    names = [s.name for s in STAGES]

    def parse(value: str, flag: str) -> list[str]:
        wanted = [n.strip().replace("-", "_") for n in value.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise BadInput(f"{flag} {value!r}: unknown stage {', '.join(unknown)}; stages are {', '.join(names)}")
        return wanted

    keep = parse(only, "--stages") if only else names
    dropped = parse(skip, "--skip") if skip else []
    return [s for s in STAGES if s.name in keep and s.name not in dropped]


@step_command("rehearse", OPTIONS,
              help="Run the main pipeline job locally, for real, on embedded defaults and local stand-ins.")
def main(ctx: StepContext, flags: dict[str, Any]) -> RehearseResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> RehearseOptions:
    v = OPTIONS.resolve(ctx, flags)
    return RehearseOptions(stages=select(v["only"], v["skip"]), keep=v["keep"],
                           channels=tuple(v["channels"] or ()) or ("teams", "slack"), container_tool=v["container_tool"])


if __name__ == "__main__":
    main()
