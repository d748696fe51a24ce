"""Running the rehearsal's stages: each announced, timed, notified to the local sink, and
recorded; a failing stage stops the job (the rest ``not run``), a signal is recorded as the
interrupted stage and unwinds, a stage whose module, tool or inputs are missing is skipped
saying why."""

from __future__ import annotations

import importlib.util
import time

from pipekit.core.errors import Interrupted
from pipekit.core.runrecord import Status
from pipekit.rehearsal import report
from pipekit.rehearsal.report import RehearseResult, Sent, StageOutcome
from pipekit.rehearsal.stages import Rehearsal, Stage, missing_tools

NOTE = "Rehearsal on embedded defaults: a sample service, built and deployed to local stand-ins only."


def missing_modules(stage: Stage) -> list[str]:
    missing = []
    for name in stage.requires:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ModuleNotFoundError:
            missing.append(name)
    return missing


def notify(r: Rehearsal, result: RehearseResult, event: str, stage: str, message: str = NOTE) -> None:
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


def record_failure(r: Rehearsal, name: str, exc: BaseException, took: float,
                    status: Status = Status.FAILED) -> None:
    """A stage that failed (or was interrupted) outside its step's own recording (a stand-in, a
    rehearsal check, between two steps) is so in the run record too, so the record tells the truth."""
    from pipekit.core.masking import mask

    record = r.context(quiet=True).record
    if record.status(name) not in (Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED):
        record.update_step(name, status=status.value, duration_s=took, error=mask(f"{type(exc).__name__}: {exc}"))
        record.save()


def dora(r: Rehearsal, result: RehearseResult) -> None:
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


def why_skip(stage: Stage, r: Rehearsal, done: dict[str, Status]) -> str:
    missing = [f"{m} not available" for m in missing_modules(stage)] + missing_tools(stage, r.container_tool)
    if missing:
        return "; ".join(missing)
    unmet = [f"{n} ({done.get(n, 'not in this rehearsal')})" for n in stage.needs if done.get(n) is not Status.SUCCEEDED]
    return f"needs the outputs of {', '.join(unmet)}" if unmet else ""


def run_stages(r: Rehearsal, result: RehearseResult, chosen: list[Stage]) -> dict[str, Status]:
    console = r.console
    done: dict[str, Status] = {}
    for i, stage in enumerate(chosen):
        why = why_skip(stage, r, done)
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
            record_failure(r, stage.name, exc, round(time.monotonic() - t0, 2), Status.INTERRUPTED)
            console.error(f"stage {stage.name} interrupted: the rehearsal stops and cleans up")
            raise
        except Exception as exc:  # a failing stage is the rehearsal's finding, reported like CI would
            took = round(time.monotonic() - t0, 2)
            record_failure(r, stage.name, exc, took)
            done[stage.name] = Status.FAILED
            result.stages.append(StageOutcome(stage.name, Status.FAILED, f"{type(exc).__name__}: {exc}", took))
            console.error(f"stage {stage.name} failed after {took:.1f} s: {exc}")
            notify(r, result, "failed", stage.name, message=f"{stage.name} failed: {exc}")
            for later in chosen[i + 1:]:
                result.stages.append(StageOutcome(later.name, Status.SKIPPED, f"{stage.name} failed before it",
                                                  ran=False))
            break
        took = round(time.monotonic() - t0, 2)
        done[stage.name] = Status.SUCCEEDED
        result.stages.append(StageOutcome(stage.name, Status.SUCCEEDED, detail, took))
        console.success(f"stage {stage.name}: {took:.1f} s: {detail}")
        notify(r, result, stage.event_on_success, stage.name)
    return done
