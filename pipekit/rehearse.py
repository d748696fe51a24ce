"""``pipekit rehearse``: run the main pipeline job locally on embedded defaults.

Nothing leaves the machine: a webhook sink starts in-process on 127.0.0.1, the pipeline
context is Bitbucket-shaped but local (this checkout's commit, branch, author and subject, a
build number of 1), the run record lives in a temporary folder, and real webhook variables are
never passed on. Every notification the job sends is shown in the terminal as it was received.

The job is an ordered list of :class:`Stage` objects. Each names the modules it needs; a stage
whose module is missing is reported and skipped. Today's stages record *demo* outputs (the
output keys each real step writes) so the notifications carry realistic facts; a real stage
replaces a demo one by changing ``run`` and ``requires`` (e.g. ``Stage("build", build_stage,
requires=("pipekit.build",))``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipekit.core.step import StepContext, step_command

if TYPE_CHECKING:
    from pipekit.core.context import PipelineContext
    from pipekit.testing.sink import WebhookSink

DEMO_NOTE = "Rehearsal on embedded defaults: demo outputs, nothing was built, pushed or deployed."


@dataclass
class Stage:
    name: str
    run: Callable[[Rehearsal], dict[str, Any]]  # returns the stage's outputs for the run record
    requires: tuple[str, ...] = ("pipekit.notify",)
    event_on_success: str = "succeeded"


@dataclass
class StageOutcome:
    name: str
    status: str  # succeeded, failed, skipped
    detail: str = ""


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

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.stages)


@dataclass
class Rehearsal:
    """What a stage can use: the fake-but-local environment, the temp folder, the sink."""

    workdir: Path
    env: dict[str, str]
    sink: WebhookSink
    service: str
    local: PipelineContext

    def context(self, outer: StepContext) -> StepContext:
        """A step context on the rehearsal's environment; its own console is quiet (we show what arrived)."""
        import io

        from pipekit.core.console import Console

        ctx = StepContext.create(env=self.env, run_record=self.workdir / "run.json",
                                 config_path=self.workdir / "pipekit.yaml", debug=outer.console.debug_enabled)
        ctx.console = Console(stream=io.StringIO(), debug=outer.console.debug_enabled)
        return ctx

    @property
    def short_sha(self) -> str:
        return self.env["BITBUCKET_COMMIT"][:7]


# -- demo stages: the output keys each real step writes, from embedded defaults --------------

def _fake_digest(r: Rehearsal, what: str) -> str:
    return "sha256:" + hashlib.sha256(f"{r.service}:{r.short_sha}:{what}".encode()).hexdigest()


def demo_build(r: Rehearsal) -> dict[str, Any]:
    image = f"local/{r.service}"
    return {"image": image, "tags": [r.short_sha], "image_ref": f"{image}:{r.short_sha}", "version": "0.0.0-rehearsal",
            "source_commit": r.env["BITBUCKET_COMMIT"], "container_tool": "none (rehearsal)",
            "tests": {"total": 12, "passed": 12, "failed": 0, "errored": 0, "skipped": 0, "flaky": 0,
                      "duration_s": 1.5, "failing": []}}


def demo_scan(r: Rehearsal) -> dict[str, Any]:
    return {"summary": {"critical": 0, "high": 0, "medium": 1, "low": 3, "info": 0, "blocking": 0, "suppressed": 0,
                        "passed": True, "tools": ["demo"]}}


def demo_ecr_push(r: Rehearsal) -> dict[str, Any]:
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    return {"repository": r.service, "registry": registry, "image_uri": f"{registry}/{r.service}",
            "digest": _fake_digest(r, "image"), "tags": [r.short_sha], "skipped": []}


def demo_update_tag(r: Rehearsal) -> dict[str, Any]:
    return {"gitops_repo": "local/gitops", "gitops_revision": _fake_digest(r, "gitops")[7:47], "environment": "dev",
            "service": r.service, "image": f"local/{r.service}", "tag": r.short_sha, "overlay": "overlays/dev"}


def demo_wait_for_argocd(r: Rehearsal) -> dict[str, Any]:
    revision = _fake_digest(r, "gitops")[7:47]
    return {"revision": revision, "apps": [{"name": f"{r.service}-dev", "sync": "Synced", "health": "Healthy",
                                            "revision": revision, "phase": "Succeeded", "hooks": []}]}


STAGES: list[Stage] = [
    Stage("build", demo_build),
    Stage("scan", demo_scan),
    Stage("ecr_push", demo_ecr_push),
    Stage("update_tag", demo_update_tag),
    Stage("wait_for_argocd", demo_wait_for_argocd, event_on_success="deployed"),
]


# -- the job ---------------------------------------------------------------------------------

def missing_modules(stage: Stage) -> list[str]:
    missing = []
    for name in stage.requires:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ModuleNotFoundError:
            missing.append(name)
    return missing


def local_env(local: PipelineContext, service: str, sink: WebhookSink) -> dict[str, str]:
    """A Bitbucket-shaped environment from this checkout; no real webhook or token is passed on."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "NO_COLOR", "TERM")}
    env.update(
        BITBUCKET_COMMIT=local.commit or "0" * 40,
        BITBUCKET_BRANCH=local.branch or "main",
        BITBUCKET_BUILD_NUMBER="1",
        BITBUCKET_REPO_SLUG=service,
        BITBUCKET_WORKSPACE="local",
        BITBUCKET_REPO_FULL_NAME=f"local/{service}",
        BITBUCKET_PIPELINE_UUID="{rehearsal-" + (local.commit or "0" * 12)[:12] + "}",
        PIPEKIT_TEAMS_WEBHOOK_URL=sink.url("teams"),
        PIPEKIT_SLACK_WEBHOOK_URL=sink.url("slack"),
        PIPEKIT_NOTIFY_TIMEOUT="5",
        PIPEKIT_NOTIFY_ATTEMPTS="2",
    )
    return env


def _notify(r: Rehearsal, outer: StepContext, result: RehearseResult, event: str, stage: str) -> None:
    from pipekit import notify
    from pipekit.notify_cards import render

    before = len(r.sink.requests)
    ctx = r.context(outer)
    sent = notify.run(notify.NotifyOptions(event=event, stage=stage, message=DEMO_NOTE, timeout=5, attempts=2), ctx)
    received = r.sink.wait_for(before + sum(d.status == "sent" for d in sent.deliveries), timeout=5)[before:]
    for d in sent.deliveries:
        req = next((q for q in received if q.channel == d.type), None)
        shown = render.payload(d.type, req.json) if req is not None else ""
        result.notifications.append(Sent(event, stage, d.channel, d.status, shown))
        outer.console.info(f"--- {d.channel}: {event} ({stage}) -> {d.status}"
                           + (f", HTTP {req.status}, {len(req.body)} bytes" if req is not None else ""))
        if shown:
            outer.console.info(shown)


def run(ctx: StepContext, *, stages: list[Stage] | None = None, keep: bool = False,
        channels: tuple[str, ...] = ("teams", "slack")) -> RehearseResult:
    """Rehearse the main job: notifications for each stage to an in-process sink, shown as received."""
    from pipekit.core.context import PipelineContext
    from pipekit.testing.sink import WebhookSink

    local = PipelineContext.from_env({}, cwd=Path.cwd())
    service = ctx.config.get("service") or local.repo_slug or "demo-service"
    workdir = Path(tempfile.mkdtemp(prefix="pipekit-rehearse-"))
    (workdir / "pipekit.yaml").write_text(f"service: {service!r}\n", encoding="utf-8")
    result = RehearseResult(service=service, workdir=str(workdir))
    try:
        with WebhookSink() as sink:
            env = local_env(local, service, sink)
            for kind in ("teams", "slack"):
                if kind not in channels:
                    env.pop(f"PIPEKIT_{kind.upper()}_WEBHOOK_URL")
            r = Rehearsal(workdir, env, sink, service, local)
            ctx.console.info(f"Rehearsing the main job for {service} at {r.short_sha} "
                             f"(webhook sink {sink.base_url}, run record {workdir / 'run.json'})")
            _notify(r, ctx, result, "started", "pipeline")
            for stage in STAGES if stages is None else stages:
                missing = missing_modules(stage)
                if missing:
                    result.stages.append(StageOutcome(stage.name, "skipped", f"{', '.join(missing)} not available"))
                    ctx.console.warn(f"stage {stage.name}: skipped, {', '.join(missing)} not available")
                    continue
                record = r.context(ctx).record
                try:
                    with record.recording(stage.name) as outputs:
                        outputs.update(stage.run(r))
                except Exception as exc:  # a failing stage is the rehearsal's finding, reported like CI would
                    result.stages.append(StageOutcome(stage.name, "failed", f"{type(exc).__name__}: {exc}"))
                    ctx.console.error(f"stage {stage.name} failed: {exc}")
                    _notify(r, ctx, result, "failed", stage.name)
                    break
                result.stages.append(StageOutcome(stage.name, "succeeded"))
                _notify(r, ctx, result, stage.event_on_success, stage.name)
            _notify(r, ctx, result, "summary", "pipeline")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


@step_command("rehearse", help="Run the main pipeline job locally on embedded defaults; notifications go to a local sink.")
@click.option("--keep", is_flag=True, help="Keep the temporary folder (run record, config) and print where it is.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(["teams", "slack"]),
              help="Rehearse only these channels [default: both].")
def main(ctx: StepContext, keep: bool, channels: tuple[str, ...]) -> RehearseResult:
    from pipekit.core.errors import CheckFailed

    result = run(ctx, keep=keep, channels=channels or ("teams", "slack"))
    rows = [(s.name, s.status, s.detail) for s in result.stages]
    ctx.console.table(["stage", "status", "detail"], rows, title="Rehearsal")
    delivered = sum(n.status == "sent" for n in result.notifications)
    ctx.console.info(f"{delivered} notification(s) delivered to the local sink; nothing left this machine.")
    if keep:
        ctx.console.info(f"kept {result.workdir}")
    if not result.ok:
        raise CheckFailed("rehearsal: a stage failed (see above)", result=result)
    ctx.console.success("rehearsal finished")
    return result


if __name__ == "__main__":
    main()
