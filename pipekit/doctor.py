"""``pipekit doctor``: is this image (or machine) what it promises, and can it reach what the config names?

Gather the manifest (``--image``: the image's own ``/etc/pipekit/image.json``; ``--manifest``:
``docker/tools.yaml`` or a file of that format), build the checks (tools at their promised
versions, Python dependencies at their locked versions, the credentials and endpoints the config
names), run them in parallel, report a table (✓ ok, ! warning, ✗ failed) or ``--json``, and exit 1
listing what is wrong. A malformed manifest, an unknown tool or a missing checksum is exit 2.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command

__all__ = ["CheckReport", "DoctorOptions", "DoctorResult", "main", "options_from", "run"]

IMAGE_JSON = "/etc/pipekit/image.json"


@dataclass
class DoctorOptions:
    image: bool = option(
        False, flag="--image", help="Check this image against its own /etc/pipekit/image.json."
    )
    manifest: str | None = option(
        flag="--manifest",
        env="PIPEKIT_DOCTOR_MANIFEST",
        config="doctor.manifest",
        metavar="PATH",
        min_length=1,
        help="A tool manifest to check against (docker/tools.yaml format).",
    )
    checks: tuple[str, ...] = option(
        (),
        flag="--check",
        metavar="NAME",
        help="Run only this check or kind (repeatable); see --list-checks.",
    )
    list_checks: bool = option(False, flag="--list-checks", help="List the checks and exit.")
    timeout: float = option(
        5.0,
        flag="--timeout",
        env="PIPEKIT_DOCTOR_TIMEOUT",
        config="doctor.timeout",
        minimum=0.1,
        help="Seconds each endpoint may take to answer.",
    )
    image_json: str = option(
        IMAGE_JSON, env="PIPEKIT_IMAGE_JSON", help="Where --image reads the image's manifest."
    )


@dataclass
class CheckReport:
    name: str
    kind: str
    status: str  # ok | warn | fail | skip | listed
    summary: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DoctorResult:
    ok: bool
    manifest: str | None
    checks: list[CheckReport]
    problems: list[str]
    elapsed_s: float = 0.0


def run(options: DoctorOptions, ctx: StepContext) -> DoctorResult:
    from pipekit.diagnostics import registry
    from pipekit.diagnostics.check import MARKS, DoctorPlan

    started = time.monotonic()
    manifest, base_dir = _manifest(options)
    plan = DoctorPlan(
        manifest=manifest,
        config=ctx.config,
        env=ctx.env,
        timeout=options.timeout,
        base_dir=base_dir,
        image=options.image,
    )
    checks = registry.select(registry.collect(plan), options.checks)
    where = manifest.path if manifest else None
    if options.list_checks:
        for check in checks:
            ctx.console.print(f"{check.name}  ({check.kind})")
        return DoctorResult(True, where, [CheckReport(c.name, c.kind, "listed") for c in checks], [])
    reports = [
        CheckReport(c.name, c.kind, o.status, o.summary, o.fix, o.details)
        for c, o in registry.run_all(checks)
    ]
    elapsed = round(time.monotonic() - started, 3)
    problems = [f"{r.name}: {r.summary}" for r in reports if r.status == "fail"]
    result = DoctorResult(not problems, where, reports, problems, elapsed)
    ctx.console.table(
        ["", "check", "result", "fix"],
        [[MARKS.get(r.status, "?"), r.name, r.summary, r.fix] for r in reports],
        title=f"pipekit doctor ({where or 'no manifest'})",
    )
    if problems:
        raise CheckFailed(
            f"{len(problems)} of {len(reports)} checks failed: " + "; ".join(problems), result=result
        )
    warnings = sum(r.status == "warn" for r in reports)
    ctx.console.success(
        f"{len(reports)} checks in {elapsed:.2f} s" + (f", {warnings} warnings" if warnings else "")
    )
    return result


def _manifest(options: DoctorOptions) -> tuple[Any, str]:
    from pipekit.baseimage.manifest import load

    if options.image and options.manifest:
        raise BadInput("--image and --manifest: give one (the image's own manifest, or another file)")
    path = options.image_json if options.image else options.manifest
    if path is None:
        return None, "."
    if options.image and not Path(path).is_file():
        raise BadInput(f"--image: {path} does not exist (not a pipekit base image? use --manifest PATH)")
    return load(path), str(Path(path).resolve().parent)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> DoctorOptions:
    return resolve(DoctorOptions, ctx, flags).options


@step_command(
    "doctor", DoctorOptions, help="Check the image's tools, Python dependencies, credentials and endpoints."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> DoctorResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
