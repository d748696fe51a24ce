"""The closing table of a run: each step, its result, its time, where it ran, what it kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipekit.core.revision import short_revision
from pipekit.pipelines.results import RunPipelineResult, StepResult

if TYPE_CHECKING:
    from pipekit.core.console import Console

MAX_SHOWN = 3


def kept(step: StepResult) -> str:
    if not step.artifacts:
        return ""
    shown = ", ".join(step.artifacts[:MAX_SHOWN])
    more = len(step.artifacts) - MAX_SHOWN
    return shown + (f" (+{more})" if more > 0 else "")


def where(step: StepResult) -> str:
    if step.execution == "image":
        return f"image {step.local_image}"
    if step.execution == "host":
        return "this machine (image not checked)"
    return ""


def show(console: Console, result: RunPipelineResult) -> None:
    rows = [
        [
            s.number,
            s.name,
            s.status + (" *" if s.warnings else ""),
            f"{s.duration_s:.1f} s" if s.status not in ("not-run", "skipped", "paused") else "",
            where(s),
            kept(s),
        ]
        for s in result.steps
    ]
    console.table(
        ["#", "step", "result", "time", "ran in", "artifacts kept"],
        rows,
        title=(
            f"{result.pipeline} at {short_revision(result.commit)} "
            f"(build {result.build_number}): {result.status}"
        ),
    )
    for step in result.steps:
        for warning in step.warnings:
            console.warn(f"{step.name}: {warning}")
        if step.reason and step.status in ("failed", "timed-out", "stopped"):
            console.info(f"{step.name}: {step.reason}" + (f" (log: {step.log})" if step.log else ""))
    for warning in result.warnings:
        console.warn(warning)
    if result.paused_at:
        console.info(
            f"paused before {result.paused_at!r}: continue with --from {result.paused_at!r} "
            "(and the same --workdir), or run again with --approve"
        )
    if result.workdir:
        console.info(f"logs, artifacts and state: {result.workdir}")
