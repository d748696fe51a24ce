"""The generated pipeline's commands: everything ``pipekit init``'s pipeline and
PostSync Job run is in the image.

``pipekit doctor --image`` renders init's standard templates for this image's JDK (an ECR service,
every environment) and reads each step's ``script``/``after-script`` and the Job's command. A
``pipekit`` command needs the programs it drives (:data:`DRIVES`); any other command is a
program itself. Each must be on PATH: a missing one fails, unless this image's ``image.json``
says it was left out of this variant (the local build cannot download every release), which
warns and names the step that would fail.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator

from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok, warn

KIND = "pipeline"
# pipekit command (and a flag=value that changes what it runs) -> the programs it runs
DRIVES: dict[str, tuple[str, ...]] = {
    "build": ("mvn", "docker"),
    "build --no-image": ("mvn",),
    "scan --run=semgrep": ("semgrep",),
    "scan --run=trivy": ("trivy",),
    "ecr-push": ("docker",),
    "update-tag": ("git", "kubectl"),
    "promote": ("git", "kubectl"),
}
# programs whose manifest name differs from the command
TOOL_OF = {"mvn": "maven", "kubectl": "kubectl", "docker": "docker"}


def checks(plan: DoctorPlan) -> list[Check]:
    if not plan.image or plan.manifest is None:
        return []
    called = calls(jdk=_jdk(plan.manifest.variant))
    return [
        Check(f"pipeline:{program}", KIND, functools.partial(check_program, plan, program, sorted(by)))
        for program, by in sorted(called.items())
    ]


def _jdk(variant: str | None) -> int:
    return 21 if variant == "jdk21" else 17


def calls(jdk: int = 17) -> dict[str, set[str]]:
    """Program -> the generated commands that run it, for init's standard templates."""
    from pipekit.onboarding.answers import Answers
    from pipekit.onboarding.render import Renderer

    answers = Answers(
        service="service",
        image_repo="123456789012.dkr.ecr.us-east-1.amazonaws.com/service",
        gitops_url="https://bitbucket.org/example/gitops.git",
        branch="main",
        gitops_branch="main",
        jdk=jdk,
        jira_project="DEMO",
    )
    files = Renderer().render(answers)
    found: dict[str, set[str]] = {}
    for argv in _pipeline_commands(files.service["bitbucket-pipelines.yml"]):
        for program in needs(argv):
            found.setdefault(program, set()).add(_label(argv))
    for argv in _job_commands(files.gitops[f"apps/{answers.service}/base/post-sync-test.yaml"]):
        for program in needs(argv):
            found.setdefault(program, set()).add("the PostSync Job: " + _label(argv))
    return found


def _label(argv: list[str]) -> str:
    text = " ".join(argv)
    return text if len(text) <= 60 else text[:57] + "..."


def needs(argv: list[str]) -> list[str]:
    """The programs one command runs."""
    if not argv:
        return []
    if argv[0] != "pipekit":
        return [argv[0]]
    name, rest = (argv[1] if len(argv) > 1 else ""), argv[2:]
    out = ["pipekit"]
    flags = {f"{a}={b}" for a, b in zip(rest, rest[1:], strict=False) if a.startswith("--")} | set(rest)
    matched = [key for key in DRIVES if key.split()[0] == name and set(key.split()[1:]) <= flags]
    specific = [key for key in matched if " " in key]
    for key in specific or matched:
        out += DRIVES[key]
    return out


def _pipeline_commands(text: str) -> Iterator[list[str]]:
    from pipekit.onboarding import lint

    doc, _problems = lint.load(text, "bitbucket-pipelines.yml")
    seen: set[int] = set()
    for _where, step in lint.steps(doc, ""):
        if not isinstance(step, dict) or id(step) in seen:
            continue
        seen.add(id(step))
        for key in ("script", "after-script"):
            yield from lint.commands(step.get(key) or [])


def _job_commands(text: str) -> Iterator[list[str]]:
    import yaml

    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") == "Job":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                command = [str(a) for a in container.get("command") or []]
                yield command[:2]
                if "--" in command:
                    yield command[command.index("--") + 1 :]


def check_program(plan: DoctorPlan, program: str, called_by: list[str]) -> CheckOutcome:
    where = "; ".join(called_by[:3]) + (" ..." if len(called_by) > 3 else "")
    found = shutil.which(program)
    if found:
        return ok(f"{program} ({found}) for {where}", path=found, called_by=called_by)
    assert plan.manifest is not None
    tool = plan.manifest.tools.get(TOOL_OF.get(program, program))
    if tool is not None and not tool.included:
        return warn(
            f"{program} is not in this image ({tool.note or 'left out of this variant'}): the generated "
            f"pipeline's {where} would fail here",
            f"use a release image, which ships {program}",
            called_by=called_by,
        )
    return fail(
        f"{program} is not on PATH, but the generated pipeline runs it: {where}",
        f"add {program} to docker/tools.yaml (or change the template not to call it)",
        called_by=called_by,
    )
