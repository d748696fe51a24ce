"""The selected pipeline laid out as the run will walk it, and the rules Bitbucket checks before it starts.

Each step gets a number (its place in the file's order) and a key for its folder; a parallel
group is one batch; a stage lends its deployment, manual trigger and condition to its steps.
Refused here, as Bitbucket refuses them (exit 2): a manual first step ("since a pipeline is
triggered on a commit, you can't make the first step manual"; custom pipelines are started by
hand and may), one deployment environment used by two steps or stages, a cache or service that
is not defined, ``clone: lfs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipekit.core.errors import BadInput
from pipekit.pipelines import caches
from pipekit.pipelines.model import Clone, Condition, Parallel, Pipeline, PipelineFile, Stage, Step

if TYPE_CHECKING:
    from pipekit.pipelines.model import Image


@dataclass
class PlannedStep:
    step: Step
    number: int
    batch: int  # steps of one parallel group share a batch
    parallel_index: int | None = None
    parallel_count: int | None = None
    stage: Stage | None = None
    first_in_stage: bool = False
    fail_fast: bool = False  # a parallel group's fail-fast (a step's own fail-fast overrides it)

    @property
    def label(self) -> str:
        return self.step.name or f"Step {self.number}"

    @property
    def key(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")[:40] or "step"
        return f"{self.number:02d}-{slug}"

    @property
    def deployment(self) -> str | None:
        return self.stage.deployment if self.stage is not None else self.step.deployment

    @property
    def manual(self) -> bool:
        return self.step.manual or (self.stage is not None and self.stage.manual and self.first_in_stage)

    @property
    def condition(self) -> Condition | None:
        return self.stage.condition if self.stage is not None else self.step.condition

    def image(self, file: PipelineFile) -> Image | None:
        return self.step.image or file.image

    def clone(self, file: PipelineFile) -> Clone:
        return self.step.clone or file.clone

    def names(self) -> set[str]:
        """What ``--approve``, ``--from`` and ``--until`` may call it."""
        out = {self.label, str(self.number)}
        if self.stage is not None and self.stage.name and self.first_in_stage:
            out.add(self.stage.name)
        return out


def lay_out(pipeline: Pipeline) -> list[PlannedStep]:
    out: list[PlannedStep] = []
    batch = 0
    for item in pipeline.items:
        if isinstance(item, Parallel):
            batch += 1
            for i, step in enumerate(item.steps):
                fail_fast = item.fail_fast if step.fail_fast is None else step.fail_fast
                out.append(PlannedStep(step, len(out) + 1, batch, i, len(item.steps), fail_fast=fail_fast))
        elif isinstance(item, Stage):
            for i, step in enumerate(item.steps):
                batch += 1
                out.append(PlannedStep(step, len(out) + 1, batch, stage=item, first_in_stage=i == 0))
        else:
            batch += 1
            out.append(PlannedStep(item, len(out) + 1, batch))
    return out


def batches(plan: list[PlannedStep]) -> list[list[PlannedStep]]:
    """The plan in the order it runs: a parallel group is one batch, every other step a batch of its own."""
    found: dict[int, list[PlannedStep]] = {}
    for planned in plan:
        found.setdefault(planned.batch, []).append(planned)
    return [found[k] for k in sorted(found)]


def check(file: PipelineFile, pipeline: Pipeline, plan: list[PlannedStep]) -> None:
    doc = file.document
    first = plan[0]
    if first.manual and pipeline.section != "custom":
        raise BadInput(
            f"{doc.name}:{first.step.line}: the first step of {pipeline.label} is manual: Bitbucket "
            "refuses it (a pipeline starts on a commit)",
            hint="use a custom pipeline to start by hand",
        )
    seen: dict[str, int] = {}
    for planned in plan:
        env = planned.deployment
        if env and (planned.stage is None or planned.first_in_stage):
            line = planned.stage.line if planned.stage else planned.step.line
            if env in seen:
                raise BadInput(
                    f"{doc.name}:{line}: deployment environment {env!r} is used twice in "
                    f"{pipeline.label} (first at line {seen[env]}): Bitbucket refuses it",
                    hint="one environment per step, or group the steps in a stage",
                )
            seen[env] = line
        for name in planned.step.caches:
            if caches.definition(name, file.caches) is None:
                raise BadInput(
                    f"{doc.name}:{planned.step.line}: step {planned.label!r} uses cache {name!r}, "
                    "which is not defined",
                    hint="define it under definitions.caches",
                )
        if len(planned.step.services) > 5:
            raise BadInput(f"{doc.name}:{planned.step.line}: step {planned.label!r} has more than 5 services")
        for name in planned.step.services:
            if name != "docker" and name not in file.services:
                raise BadInput(
                    f"{doc.name}:{planned.step.line}: step {planned.label!r} uses service {name!r}, "
                    "which is not defined",
                    hint="define it under definitions.services",
                )
        if planned.clone(file).lfs:
            raise BadInput(
                f"{doc.name}:{planned.step.line}: clone: lfs is not supported by pipekit run-pipeline "
                "(Git LFS files are not fetched)",
                hint="run this pipeline on Bitbucket",
            )


def find(plan: list[PlannedStep], name: str, flag: str) -> PlannedStep:
    hits = [p for p in plan if name in p.names()]
    if not hits:
        raise BadInput(
            f"{flag} {name!r}: no such step in this pipeline",
            hint="steps: " + ", ".join(f"{p.number} {p.label}" for p in plan),
        )
    if len(hits) > 1:
        raise BadInput(
            f"{flag} {name!r} names {len(hits)} steps: use the step's number",
            hint=", ".join(f"{p.number} {p.label}" for p in hits),
        )
    return hits[0]


def check_approvals(plan: list[PlannedStep], approvals: list[str]) -> None:
    environments = {p.deployment for p in plan if p.deployment}
    for name in approvals:
        if name not in environments:
            find(plan, name, "--approve")


def approved(planned: PlannedStep, approvals: list[str]) -> bool:
    return bool(planned.names() & set(approvals)) or (planned.deployment in approvals)
