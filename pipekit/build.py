"""``pipekit build``: Maven build, test report and container image.

The story: check every input first (pom.xml, Maven, image name, tags, labels, Dockerfile,
container tool) so bad input stops before anything is built; run Maven with its output
streamed; read every module's Surefire/Failsafe reports into one test summary (run record,
optional merged JUnit XML); stop with exit 1 naming failed tests or the failed module and
phase; build the image with the documented tags and OCI labels; record it for later steps.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pipekit.clients import maven
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, resolve
from pipekit.core.outputs import BuildResult
from pipekit.core.step import StepContext, step_command
from pipekit.images import Tool
from pipekit.images import tags as imagetags
from pipekit.reports import junit, surefire

__all__ = ["BuildOptions", "BuildResult", "main", "options_from", "plan_image", "run"]

_MAX_NAMED = 10


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value))


@dataclass
class BuildOptions:
    project_dir: Path = option(
        Path("."),
        flag="--project-dir",
        env="PIPEKIT_PROJECT_DIR",
        config="build.project_dir",
        help="Maven project directory (where pom.xml is).",
    )
    goals: list[str] = option(
        "clean verify",
        flag="--goals",
        env="PIPEKIT_MAVEN_GOALS",
        config="build.maven.goals",
        convert=_split,
        min_length=1,
        help="Maven goals.",
    )
    maven_args: list[str] = option(
        flag="--maven-args",
        env="PIPEKIT_MAVEN_ARGS",
        config="build.maven.args",
        convert=_split,
        help="Extra Maven arguments, shell-quoted.",
    )
    settings: Path | None = option(
        flag="--settings",
        env="PIPEKIT_MAVEN_SETTINGS",
        config="build.maven.settings",
        help="Maven settings.xml (-s).",
    )
    local_repo: Path | None = option(
        flag="--local-repo",
        env="PIPEKIT_MAVEN_REPO_LOCAL",
        config="build.maven.local_repo",
        help="Maven local repository (-Dmaven.repo.local); Bitbucket's maven cache is ~/.m2/repository.",
    )
    offline: bool = option(
        False,
        flag="--offline",
        env="PIPEKIT_MAVEN_OFFLINE",
        config="build.maven.offline",
        help="Run Maven offline (-o).",
    )
    maven_opts: str | None = option(
        flag="--maven-opts",
        config="build.maven.opts",
        help="MAVEN_OPTS for the Maven JVM (default: inherited).",
    )
    maven_output: Literal["full", "status"] = option(
        "full",
        flag="--maven-output",
        env="PIPEKIT_MAVEN_OUTPUT",
        config="build.maven.output",
        help="full: stream Maven's log; status: one line per phase only.",
    )
    skip_maven: bool = option(
        False, flag="--skip-maven", help="Do not run Maven; read reports, build the image."
    )
    image: str | None = option(
        flag="--image",
        env="PIPEKIT_IMAGE",
        config="build.image.name",
        min_length=1,
        help="Image name without tag [default: the service name].",
    )
    container_tool: Tool = option(
        "docker",
        flag="--container-tool",
        env="PIPEKIT_CONTAINER_TOOL",
        config="build.container_tool",
        help="Image builder.",
    )
    no_image: bool = option(
        False, flag="--no-image", config="build.no_image", help="Build and test only, no image."
    )
    dockerfile: Path | None = option(
        flag="--dockerfile",
        env="PIPEKIT_DOCKERFILE",
        config="build.image.dockerfile",
        help="Dockerfile [default CONTEXT/Dockerfile].",
    )
    context: Path | None = option(
        flag="--context",
        env="PIPEKIT_BUILD_CONTEXT",
        config="build.image.context",
        help="Image build context [default: the project directory].",
    )
    build_arg: list[str] = option(flag="--build-arg", help="Image build argument KEY=VALUE (repeatable).")
    build_args: dict[str, str | None] = option(  # with the --build-arg pairs once options_from merged them
        default_factory=dict,
        config="build.image.build_args",
        schema={"additionalProperties": {"type": "string"}},
        help="Image build arguments.",
    )
    label: list[str] = option(flag="--label", help="Extra image label KEY=VALUE (repeatable).")
    labels: dict[str, str] = option(  # with the --label pairs once options_from merged them
        default_factory=dict,
        config="build.image.labels",
        schema={"additionalProperties": {"type": "string"}},
        help="Extra image labels.",
    )
    extra_tags: list[str] = option(
        flag="--tag",
        config="build.image.extra_tags",
        comma=True,
        metavar="TAG",
        help="Extra image tag (repeatable), after the scheme's tags.",
    )
    tag_kinds: list[imagetags.TagKind] = option(
        default_factory=lambda: list(imagetags.KINDS),
        config="build.image.tags",
        schema={"minItems": 1},
        help="Tag kinds of the scheme, in order (the first is the recorded image_ref).",
    )
    sha_length: int = option(
        7,
        config="build.image.sha_length",
        minimum=7,
        maximum=40,
        help="Characters of the commit in the sha tag.",
    )
    junit_out: Path | None = option(
        flag="--junit-out",
        env="PIPEKIT_JUNIT_OUT",
        config="build.junit_out",
        help="Write a merged JUnit XML here, e.g. test-results/pipekit-junit.xml.",
    )
    fail_on_flaky: bool = option(
        False,
        flag="--fail-on-flaky",
        env="PIPEKIT_FAIL_ON_FLAKY",
        config="build.fail_on_flaky",
        help="A test that passed only on a rerun fails the build (exit 1).",
    )


@dataclass
class _Plan:
    image: str | None
    tags: list[str]
    labels: dict[str, str]
    dockerfile: Path | None
    context: Path | None


def plan_image(options: BuildOptions, ctx: StepContext, version: str | None) -> _Plan:
    """Name, tags, labels and files of the image; every check that can fail before building."""
    if options.no_image:
        return _Plan(None, [], {}, None, None)
    p = ctx.pipeline
    name = options.image or (ctx.service or imagetags.pom_name(options.project_dir / "pom.xml") or "").lower()
    if not name:
        raise BadInput("no image name: pass --image, set PIPEKIT_IMAGE or build.image.name in pipekit.yaml")
    imagetags.validate_name(name)
    inputs = imagetags.TagInputs(
        commit=p.commit,
        build_number=p.build_number,
        version=version,
        branch=p.branch,
        git_tag=p.tag,
        sha_length=options.sha_length,
    )
    for extra in options.extra_tags:
        imagetags.validate_tag(extra, source="--tag")
    tags = imagetags.compute_tags(inputs, options.tag_kinds, options.extra_tags)
    if not tags:
        raise BadInput("no image tags: no commit, build number, version or git tag is known; pass --tag")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    labels = imagetags.oci_labels(
        revision=p.commit,
        source=p.repo_url,
        created=created,
        version=version,
        title=ctx.service or name.rsplit("/", 1)[-1],
    )
    labels.update(imagetags.validate_labels(options.labels))
    imagetags.validate_labels(labels)
    context = options.context or options.project_dir
    if not context.is_dir():
        raise BadInput(f"image build context {context} is not a directory")
    dockerfile = options.dockerfile
    default = context / "Dockerfile"
    if dockerfile is None and not default.is_file() and (context / "Containerfile").is_file():
        dockerfile = context / "Containerfile"
    if not (dockerfile or default).is_file():
        raise BadInput(
            f"no Dockerfile: {dockerfile or default} does not exist", hint="pass --dockerfile or --no-image"
        )
    return _Plan(name, tags, labels, dockerfile, context)


def run(options: BuildOptions, ctx: StepContext) -> BuildResult:
    from pipekit.clients.containers import get_tool

    console = ctx.console
    project = options.project_dir
    pom = project / "pom.xml"
    if not pom.is_file():
        raise BadInput(
            f"no pom.xml in {project.resolve()}", hint="run in the Maven project or pass --project-dir"
        )
    version = imagetags.maven_version(pom, imagetags.maven_overrides(options.maven_args))
    plan = plan_image(options, ctx, version)
    mvn_options = maven.MavenOptions(
        project_dir=project,
        goals=options.goals,
        args=options.maven_args,
        settings=options.settings,
        local_repo=options.local_repo,
        offline=options.offline,
        maven_opts=options.maven_opts,
    )
    if not options.skip_maven:
        maven.find_executable(project, None, ctx.env)
        if options.settings is not None and not options.settings.is_file():
            raise BadInput(f"Maven settings file {options.settings} does not exist")
    tool = None
    if plan.image:
        tool = get_tool(
            options.container_tool, output=console.print if options.maven_output == "full" else None
        )
        tool.resolve()
    p = ctx.pipeline
    result = BuildResult(
        version=version,
        source_commit=p.commit,
        source_committed_at=p.committed_at,
        container_tool=options.container_tool if plan.image else None,
    )

    with ctx.record.recording(BuildResult.SECTION) as outputs:
        result.write_to(outputs)
        newer_than: float | None = None
        mvn_run = None
        if not options.skip_maven:
            console.info(f"Maven: {' '.join(options.goals)} in {project.resolve()}")
            mvn_run = maven.run(
                mvn_options,
                output=console.print if options.maven_output == "full" else None,
                status=console.info,
                env=ctx.env,
            )
            result.maven_argv = mvn_run.argv
            newer_than = mvn_run.started_at - 2.0
            console.info(f"Maven finished in {mvn_run.duration_s:.1f} s (exit {mvn_run.returncode})")
            if not mvn_run.ok and options.maven_output == "status":
                for line in mvn_run.tail[-20:]:
                    console.print(line)

        summary, cases, stale = _read_tests(project, newer_than, keep_cases=options.junit_out is not None)
        if stale:
            console.warn(f"ignored {stale} test report(s) older than this build")
        result.tests = summary.to_record()
        result.write_to(outputs)
        _show_tests(ctx, summary)
        if options.junit_out is not None:
            from pipekit.reports import junit_merge

            junit_merge.write(options.junit_out, summary, cases)
            result.junit_out = str(options.junit_out)
            result.write_to(outputs)
        if not summary.ok:
            where = ""
            if mvn_run is not None and mvn_run.failure is not None:
                where = f" [module {mvn_run.failure.module}, phase {mvn_run.failure.phase}]"
            raise CheckFailed(_failed_tests_message(summary) + where, result=result)
        if mvn_run is not None and mvn_run.failure is not None:
            raise CheckFailed(f"Maven build failed: {mvn_run.failure.describe()}", result=result)
        if summary.flaky and options.fail_on_flaky:
            raise CheckFailed(
                _flaky_tests_message(summary),
                result=result,
                hint="fix or quarantine the flaky tests, or drop --fail-on-flaky",
            )

        if plan.image and tool is not None:
            console.info(f"Image: {options.container_tool} build {plan.image} tags {', '.join(plan.tags)}")
            refs = [f"{plan.image}:{t}" for t in plan.tags]
            result.image_id = tool.build(
                context=plan.context or project,
                dockerfile=plan.dockerfile,
                tags=refs,
                labels=plan.labels,
                build_args=options.build_args,
            )
            result.image, result.tags, result.labels = plan.image, plan.tags, plan.labels
            result.image_ref = refs[0]
            result.write_to(outputs)
            console.success(f"built {refs[0]} ({result.image_id[:19]})")
    return result


def _read_tests(
    project: Path, newer_than: float | None, keep_cases: bool
) -> tuple[junit.TestSummary, list[junit.TestCase], int]:
    paths, stale = surefire.find_reports(project, newer_than=newer_than)
    summary, cases = junit.read_summary(paths, keep_cases=keep_cases, dialect_name="surefire")
    return summary, cases, stale


def _show_tests(ctx: StepContext, s: junit.TestSummary) -> None:
    if s.reports == 0:
        ctx.console.warn(
            "no Surefire/Failsafe test reports found (target/surefire-reports, target/failsafe-reports)"
        )
        return
    line = (
        f"Tests: {s.total} total, {s.passed} passed, {s.failed} failed, {s.errored} errored, "
        f"{s.skipped} skipped, {s.flaky} flaky in {s.duration_s:.1f} s ({s.reports} reports)"
    )
    (ctx.console.success if s.ok else ctx.console.error)(line)
    for t in s.flaky_tests[:_MAX_NAMED]:
        ctx.console.warn(f"flaky (passed on rerun): {t['class']}.{t['name']}: {t['message']}")


def _failed_tests_message(s: junit.TestSummary) -> str:
    named = "; ".join(f"{t['class']}.{t['name']}: {t['message']}" for t in s.failing[:_MAX_NAMED])
    more = f"; and {len(s.failing) - _MAX_NAMED} more" if len(s.failing) > _MAX_NAMED else ""
    return f"{s.failed + s.errored} test(s) failed ({s.failed} failed, {s.errored} errored): {named}{more}"


def _flaky_tests_message(s: junit.TestSummary) -> str:
    named = "; ".join(f"{t['class']}.{t['name']}" for t in s.flaky_tests[:_MAX_NAMED])
    more = f"; and {len(s.flaky_tests) - _MAX_NAMED} more" if len(s.flaky_tests) > _MAX_NAMED else ""
    return f"{s.flaky} flaky test(s) (passed only on a rerun) and --fail-on-flaky: {named}{more}"


def _pairs(values: tuple[str, ...] | list[str], flag: str, *, bare_ok: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key or (not sep and not bare_ok):
            raise BadInput(f"{flag} {item!r}: expected KEY=VALUE" + (" or KEY" if bare_ok else ""))
        out[key] = value if sep else None
    return out


def _build_args(args: dict[str, str | None], env: Mapping[str, str]) -> dict[str, str | None]:
    """Secret-looking build args must come from the environment (``--build-arg NPM_TOKEN``), never argv."""
    from pipekit.core.masking import is_secret_name

    for key, value in args.items():
        if value is not None and is_secret_name(key):
            raise BadInput(
                f"build arg {key} looks like a secret: pass --build-arg {key} without a value so the "
                "container tool reads it from the environment (values never go in process arguments)"
            )
        if value is None and key not in env:
            raise BadInput(f"build arg {key}: no value given and {key} is not set in the environment")
    return args


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> BuildOptions:
    """flags > PIPEKIT_* environment > pipekit.yaml ``build:`` > defaults;
    the flags' pairs over the file's."""
    o = resolve(BuildOptions, ctx, flags).options
    build_args = _build_args(
        {
            **{str(k): str(val) for k, val in o.build_args.items()},
            **_pairs(o.build_arg, "--build-arg", bare_ok=True),
        },
        ctx.env,
    )
    labels = {**{str(k): str(val) for k, val in o.labels.items()}, **_pairs(o.label, "--label")}
    return replace(o, build_args=build_args, labels=labels)


@step_command("build", BuildOptions, help="Maven build, test report and container image.")
def main(ctx: StepContext, flags: dict[str, Any]) -> BuildResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
