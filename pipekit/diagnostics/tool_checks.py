"""Tools: each tool the manifest promises is on PATH and reports the promised version."""

from __future__ import annotations

import functools

from pipekit.baseimage.manifest import Tool
from pipekit.core.errors import BadInput, PipekitError
from pipekit.diagnostics import tools
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok, skip, warn

KIND = "tools"


def checks(plan: DoctorPlan) -> list[Check]:
    if plan.manifest is None:
        return []
    out = []
    for tool in plan.manifest.tools.values():
        if tool.kind == "python":
            continue  # the python kind checks pipekit and its locked dependencies
        probe = tools.probe_for(tool.name, tool.kind)
        if probe is None:
            raise BadInput(
                f"{plan.manifest.path}: unknown tool {tool.name!r}: pipekit doctor has no version "
                f"probe for it (known: {', '.join(sorted(tools.PROBES))}, or any Debian package)"
            )
        out.append(Check(f"tool:{tool.name}", KIND, functools.partial(check_tool, plan, tool, probe)))
    return out


def check_tool(plan: DoctorPlan, tool: Tool, probe: tools.Probe) -> CheckOutcome:
    variant = plan.manifest.variant if plan.manifest else None
    if not tool.included:
        return skip(tool.note or "left out of this image")
    if tool.stage == "fetch":
        return skip("used only while building the image")
    if tool.variant and tool.variant != variant:
        return skip(f"only in the {tool.variant} variant")
    dpkg = probe.command == "dpkg-query"
    want = tool.version if dpkg else tool.expected_version()
    try:
        reading = tools.read(probe)
    except PipekitError as exc:
        return fail(
            str(exc), f"install {tool.name} {want} (docker/tools.yaml), or run in the pipekit base image"
        )
    if reading.wrong_tool:
        return fail(
            f"`{probe.command}` on PATH is {reading.wrong_tool}",
            f"put {tool.name} {want} first on PATH (the base image ships it)",
            **reading.details,
        )
    if reading.version is None:
        why = reading.details.get("error", "no version in its output")
        return fail(f"`{probe.command}` did not say its version: {why}", f"reinstall {tool.name} {want}")
    if reading.version != want:
        return fail(
            f"{tool.name} {reading.version}, but {want} is promised",
            f"install {tool.name} {want}, or bump the manifest with scripts/bump-tool.py",
            found=reading.version,
            expected=want,
            **reading.details,
        )
    outcome = ok(f"{tool.name} {reading.version}", found=reading.version, **reading.details)
    if tool.name == "maven" and reading.details.get("java"):
        return _maven_jdk(outcome, reading.details["java"])
    return outcome


def _maven_jdk(outcome: CheckOutcome, maven_java: str) -> CheckOutcome:
    """mvn may run on another JDK than ``java`` on PATH (JAVA_HOME): say so."""
    try:
        path_java = tools.read(tools.PROBES["java"]).version
    except PipekitError:
        return outcome
    major = maven_java.split(".")[0]
    if path_java and path_java.split(".")[0] != major:
        return warn(
            f"{outcome.summary} on JDK {maven_java}, but java on PATH is {path_java}",
            "set JAVA_HOME to the JDK the build should use",
            **outcome.details,
        )
    outcome.summary += f" (JDK {maven_java})"
    return outcome
