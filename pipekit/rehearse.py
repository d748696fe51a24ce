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
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core.errors import Interrupted
from pipekit.core.options import Option, OptionTable
from pipekit.core.runrecord import Status
from pipekit.core.step import StepContext, step_command
from pipekit.rehearsal import failures, report
from pipekit.rehearsal.report import RehearseResult, Sent, StageOutcome
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
           help="Keep the work folder and list where each artifact is (run record, cards, SARIF, JUnit, ...)."),
    Option("workdir", "--workdir", type="path", metavar="DIR",
           help="Work in DIR (empty, new, or a previous rehearsal's) instead of a temporary folder."),
    Option("card_renderer_dir", None, env="PIPEKIT_CARD_RENDERER_DIR", type="path",
           help="Where the Adaptive Cards renderer is installed [default: ~/.cache/pipekit/card-renderer]."),
    Option("fail_at", "--fail-at", type="choice", choices=failures.CHOICES,
           help="Make this stage fail for real, to see what a failure looks like (exit 1)."),
    # --config FILE (every step's: else PIPEKIT_CONFIG, else ./pipekit.yaml) is the settings rehearsed
    Option("channels", "--channel", type="choice", choices=("teams", "slack"), multiple=True,
           help="Rehearse only these channels [default: both]."),
])


@dataclass
class RehearseOptions:
    stages: list[Stage] | None = None  # default: every stage
    keep: bool = False
    channels: tuple[str, ...] = ("teams", "slack")
    container_tool: str = "buildah"
    workdir: Path | None = None  # default: a new temporary folder
    fail_at: str | None = None  # one of failures.CHOICES
    card_renderer_dir: Path | None = None  # default: card_page.cache_dir
    config: Path | None = None  # the user's pipekit.yaml to rehearse (default: the one pipekit init writes)


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


def local_env(commit: str, service: str, sink: Any, channels: tuple[str, ...],
              workdir: Path | None = None, user_channels: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
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
    if workdir is not None:
        env["PIPEKIT_JUNIT_OUT"] = str(workdir / "junit.xml")  # Maven's results, merged, kept with the rest
    for kind in channels:
        env[f"PIPEKIT_{kind.upper()}_WEBHOOK_URL"] = sink.url(kind, secret=f"sig-rehearsal-{kind}")
    for ch in user_channels:  # notify.channels of --config: each webhook variable points at the sink
        env[str(ch["webhook_env"])] = sink.url(str(ch["type"]), secret=f"sig-rehearsal-{ch['name']}")
    return env


def _notify(r: Rehearsal, result: RehearseResult, event: str, stage: str, message: str = NOTE) -> None:
    from pipekit import notify
    from pipekit.cards import render

    before = len(r.sink.requests)
    order = len({(n.event, n.stage) for n in result.notifications}) + 1  # the card files' number
    ctx = r.context(quiet=True)  # the rehearsal's environment sets the timeout and attempts
    sent = notify.run(notify.options_from(ctx, {"event": event, "stage": stage, "message": message}), ctx)
    received = r.sink.wait_for(before + sum(d.status == "sent" for d in sent.deliveries), timeout=5)[before:]
    for d in sent.deliveries:
        req = next((q for q in received if f"sig-rehearsal-{d.channel}" in q.path), None)
        shown = render.payload(d.type, req.json) if req is not None else ""
        card = ""
        if req is not None:
            written = report.write_card(r.workdir / "cards", order, event, stage, d.type, req.json,
                                        name=d.channel)
            result.cards.append(written)
            card = str(written.path)
        result.notifications.append(Sent(event, stage, d.channel, d.status, shown, card))
        r.console.info(f"--- {d.channel}: {event} ({stage}) -> {d.status}"
                       + (f", HTTP {req.status}, {len(req.body)} bytes" if req is not None else ""))
        if shown:
            r.console.info(shown)


def _record_failure(r: Rehearsal, name: str, exc: BaseException, took: float,
                    status: Status = Status.FAILED) -> None:
    """A stage that failed (or was interrupted) outside its step's own recording (a stand-in, a
    rehearsal check, between two steps) is so in the run record too, so the record tells the truth."""
    from pipekit.core.masking import mask

    record = r.context(quiet=True).record
    if record.status(name) not in (Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED):
        record.update_step(name, status=status.value, duration_s=took, error=mask(f"{type(exc).__name__}: {exc}"))
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


def _run_stages(r: Rehearsal, result: RehearseResult, chosen: list[Stage]) -> dict[str, Status]:
    console = r.console
    done: dict[str, Status] = {}
    for i, stage in enumerate(chosen):
        why = _why_skip(stage, r, done)
        if why:
            done[stage.name] = Status.SKIPPED
            result.stages.append(StageOutcome(stage.name, Status.SKIPPED, why))
            console.warn(f"stage {stage.name}: skipped, {why}")
            continue
        t0 = time.monotonic()
        try:  # a signal during the announcement interrupts this stage too
            console.info(f"=== stage {stage.name} ({i + 1}/{len(chosen)})")
            detail = stage.run(r)
        except (Interrupted, KeyboardInterrupt) as exc:  # recorded, then the clean-up unwinds
            _record_failure(r, stage.name, exc, round(time.monotonic() - t0, 2), Status.INTERRUPTED)
            console.error(f"stage {stage.name} interrupted: the rehearsal stops and cleans up")
            raise
        except Exception as exc:  # a failing stage is the rehearsal's finding, reported like CI would
            took = round(time.monotonic() - t0, 2)
            _record_failure(r, stage.name, exc, took)
            done[stage.name] = Status.FAILED
            result.stages.append(StageOutcome(stage.name, Status.FAILED, f"{type(exc).__name__}: {exc}", took))
            console.error(f"stage {stage.name} failed after {took:.1f} s: {exc}")
            _notify(r, result, "failed", stage.name, message=f"{stage.name} failed: {exc}")
            for later in chosen[i + 1:]:
                result.stages.append(StageOutcome(later.name, Status.SKIPPED, f"{stage.name} failed before it",
                                                  ran=False))
            break
        took = round(time.monotonic() - t0, 2)
        done[stage.name] = Status.SUCCEEDED
        result.stages.append(StageOutcome(stage.name, Status.SUCCEEDED, detail, took))
        console.success(f"stage {stage.name}: {took:.1f} s: {detail}")
        _notify(r, result, stage.event_on_success, stage.name)
    return done


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
            r = _prepare(ctx, workdir, sink, servers, chosen, channels=channels, container_tool=container_tool,
                         fail_at=fail_at, config=config)
            ctx.console.info(f"Rehearsing the main job for {r.service} at {r.short_sha} in {workdir} "
                             f"(webhook sink {sink.base_url})")
            _notify(r, result, "started", "pipeline")
            done = _run_stages(r, result, chosen)
            if done.get("update_tag") is Status.SUCCEEDED:
                _dora(r, result)
            _notify(r, result, "summary", "pipeline")
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


def _prepare(ctx: StepContext, workdir: Path, sink: Any, servers: Any, chosen: list[Stage], *,
             channels: tuple[str, ...], container_tool: str, fail_at: str | None, config: Path | None) -> Rehearsal:
    """The sample checkout onboarded by ``pipekit init``, the one merged ``pipekit.yaml``, the environment."""
    from pipekit.rehearsal import onboard, settings, workspace
    from pipekit.rehearsal.scanning import scan_settings

    kept_env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    service = workspace.SERVICE
    repo = workspace.service_repo(workdir, kept_env)
    user = settings.read_base(config) if config else None
    environments = (settings.environments_of(user, str(config)) if user is not None else None) or workspace.ENVIRONMENTS
    onboarded = onboard.onboard(workdir, repo, service, environments, kept_env, ctx.console)
    ctx.console.info(onboard.summary(onboarded))
    if fail_at == "tests":
        failures.break_tests(repo, kept_env)
    scan = scan_settings(workdir)
    if fail_at == "scan":
        scan["reports"] = [str(failures.scan_report(workdir, workspace.SCAN_REPORT))]
    missing = workspace.missing_maven_artifacts(Path(kept_env.get("HOME") or Path.home()))
    if missing and any(s.name == "build" for s in chosen):  # e.g. in the base image: no local repository
        ctx.console.warn(f"Maven's local repository lacks the sample's {', '.join(missing)}: the build runs "
                         "online (Maven Central, or the mirror in your settings.xml)")
    local = settings.overrides(workdir, service, repo, container_tool=container_tool,
                               image_repo=onboard.image_repo(service), environments=environments, scan=scan,
                               maven_offline=not missing)
    base = user if user is not None else settings.read_base(repo / "pipekit.yaml")
    merged = settings.merge(base, local, str(config) if config else "pipekit init")
    settings.write(merged, workdir / "pipekit.yaml")
    ctx.console.info(settings.describe(merged))
    commit = workspace.git("rev-parse", "HEAD", cwd=repo)
    user_channels = (merged.data.get("notify") or {}).get("channels") or []
    r = Rehearsal(workdir, local_env(commit, service, sink, channels, workdir, user_channels), sink, service, repo,
                  servers, ctx.console, container_tool, planned=tuple(s.name for s in chosen),
                  environments=tuple(merged.environments or environments))
    if fail_at:
        failures.arm(fail_at, r)
        ctx.console.warn(f"--fail-at {fail_at}: {failures.WHAT[fail_at]}; "
                         f"{failures.stage_for(fail_at, chosen)} will fail and nothing after it will run")
    return r


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


@step_command("rehearse", OPTIONS,
              help="Run the main pipeline job locally, for real, on embedded defaults and local stand-ins.")
def main(ctx: StepContext, flags: dict[str, Any]) -> RehearseResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> RehearseOptions:
    from pipekit.core.errors import BadInput
    from pipekit.rehearsal import settings
    from pipekit.rehearsal.stages import plan

    v = OPTIONS.resolve(ctx, flags)
    config = ctx.config.path  # --config FILE, PIPEKIT_CONFIG, or ./pipekit.yaml, as for every step
    planned = None
    if config:  # the stages follow the file's environments, each checked before anything is made
        base = settings.read_base(config)
        settings.environments_of(base, str(config))
        planned = plan(base.get("environments") or {})
    stages = select(v["only"], v["skip"], planned)
    fail_at = v["fail_at"]
    if fail_at:
        wanted = failures.stage_for(fail_at, planned or STAGES)
        if not wanted:
            raise BadInput(f"--fail-at {fail_at}: no environment of {config} has a jira gate to fail")
        if wanted not in [s.name for s in stages]:
            raise BadInput(f"--fail-at {fail_at}: its stage {wanted} is not in this rehearsal "
                           f"({', '.join(s.name for s in stages)}); drop it from --skip or add it to --stages")
    workdir = Path(v["workdir"]) if v["workdir"] else None
    return RehearseOptions(stages=stages, keep=v["keep"], channels=tuple(v["channels"] or ()) or ("teams", "slack"),
                           container_tool=v["container_tool"], workdir=workdir, fail_at=fail_at,
                           card_renderer_dir=Path(v["card_renderer_dir"]) if v["card_renderer_dir"] else None,
                           config=config)


if __name__ == "__main__":
    main()
