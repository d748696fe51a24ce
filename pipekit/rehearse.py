"""``pipekit rehearse``: the pipeline ``pipekit init`` writes, run as Bitbucket runs it,
against local stand-ins.

In a work folder: the stand-ins of every outside system start on 127.0.0.1
(:mod:`pipekit.rehearsal.world`); the embedded sample service, a git repository on ``master``, is
onboarded by the real ``pipekit init`` into an empty GitOps repository, signing with a throwaway
cosign key (:mod:`pipekit.rehearsal.onboard`); then ``run-pipeline`` runs the generated
``bitbucket-pipelines.yml`` for ``branch:master`` step by step, each in a fresh clone, in the
pipeline's image when a local one holds this pipekit, with only the declared artifacts and the
variables a team would set in Bitbucket, pointed at the stand-ins (:mod:`pipekit.rehearsal.pipeline`).
It pauses before each manual step as Bitbucket does, and the rehearsal approves preprod, then
prod. prod goes by pull request (``init --via-pull-request prod``) on the Bitbucket stand-in, over
the same bare GitOps repository; the rehearsal plays its reviewer (:mod:`pipekit.rehearsal.review`).
Then ``dora`` and ``history`` over the GitOps repository. The stages reported are the
pipeline's steps; what cannot run here is substituted through documented variables, listed in the
summary. ``--fail-at`` makes one step fail for real (:mod:`pipekit.rehearsal.failures`).

Every stand-in is stopped and the folder removed (unless ``--keep``) at the end, also after a
failure or a signal.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipekit.core.options import option, resolve
from pipekit.core.step import StepContext, step_command
from pipekit.rehearsal import failures, report
from pipekit.rehearsal.failures import FailAt
from pipekit.rehearsal.report import RehearseResult, StageOutcome

__all__ = ["RehearseOptions", "RehearseResult", "StageOutcome", "main", "options_from", "rehearse", "run"]

Channel = Literal["teams", "slack"]
KEPT_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "NO_COLOR",
    "TERM",
    "JAVA_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "CONTAINERS_STORAGE_CONF",
    "STORAGE_DRIVER",
    "BUILDAH_ISOLATION",
)


@dataclass(kw_only=True)
class RehearseOptions:
    fail_at: FailAt | None = option(
        flag="--fail-at",
        help="Make this step fail for real, to see what a failure "
        "looks like (exit 1): scan, tests, deploy, hook, gate or signature.",
    )
    until: str | None = option(
        flag="--until",
        metavar="STEP",
        help="Stop after this step of the pipeline (its name, as run-pipeline's --until).",
    )
    image: str | None = option(
        flag="--image",
        env="PIPEKIT_REHEARSE_IMAGE",
        metavar="LOCAL_IMAGE|none",
        help="Run the steps in this local image; none: on this machine [default: "
        "localhost/pipekit-base:<version>-local when it holds this pipekit].",
    )
    channels: list[Channel] = option(
        default_factory=list, flag="--channel", help="Rehearse only these channels [default: both]."
    )
    keep: bool = option(False, flag="--keep", help="Keep the work folder and list where each artifact is.")
    workdir: Path | None = option(
        flag="--workdir",
        metavar="DIR",
        help="Work in DIR (empty, new, or a previous rehearsal's) instead of a temporary folder.",
    )
    card_renderer_dir: Path | None = option(
        env="PIPEKIT_CARD_RENDERER_DIR",
        help="Where the Adaptive Cards renderer is installed [default: ~/.cache/pipekit/card-renderer].",
    )
    # --config FILE (every step's: else PIPEKIT_CONFIG, else ./pipekit.yaml) is the settings rehearsed
    config: Path | None = None
    environments: tuple[str, ...] | None = None  # the --config file's (default: init's)


def run(options: RehearseOptions, ctx: StepContext) -> RehearseResult:
    """Rehearse, show the summary; a failed step is exit 1 (``CheckFailed`` carrying the result)."""
    from pipekit.core.errors import CheckFailed

    result = rehearse(options, ctx)
    report.summary(ctx.console, result)
    for problem in result.cleanup_problems:
        ctx.console.warn(f"clean-up: {problem}")
    if result.fail_at:
        if result.failed_as_requested:
            raise CheckFailed(
                f"rehearsal: {result.fail_step} failed as requested (--fail-at {result.fail_at}: "
                f"{failures.WHAT[result.fail_at]}); the steps after it did not run",
                result=result,
            )
        raise CheckFailed(
            f"rehearsal: --fail-at {result.fail_at} was requested, but "
            + (
                f"{result.fail_step or 'no step'} did not fail"
                if not result.failed
                else f"{', '.join(result.failed)} failed instead (see above)"
            ),
            result=result,
        )
    if result.failed:
        raise CheckFailed(f"rehearsal: {', '.join(result.failed)} failed (see above)", result=result)
    ctx.console.success(
        "rehearsal finished: "
        + (f"stopped after {options.until}" if options.until else "the pipeline ran to its end")
    )
    return result


def rehearse(options: RehearseOptions, ctx: StepContext) -> RehearseResult:
    """The whole rehearsal in ``options.workdir`` (a temporary folder by default)."""
    from pipekit.core import signals
    from pipekit.rehearsal import onboard
    from pipekit.rehearsal.world import World

    started = time.monotonic()
    if options.workdir is None:
        workdir, made = Path(tempfile.mkdtemp(prefix="pipekit-rehearse-")), True
        (workdir / report.MARKER).write_text("made by pipekit rehearse\n", encoding="utf-8")
    else:
        workdir = options.workdir.resolve()
        made = report.prepare_workdir(workdir)
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    result = RehearseResult(
        service=onboard.SERVICE, workdir=str(workdir), fail_at=options.fail_at, kept=options.keep
    )
    world = World(workdir, env=env)
    stop_on_signals = signals.installed()  # SIGTERM (a CI timeout, kill) unwinds, so the clean-up runs
    stop_on_signals.__enter__()
    try:
        world.start()
        for missing in world.missing:
            ctx.console.warn(missing)
        _rehearse(options, ctx, world, env, result)
    finally:
        result.cleanup_problems = world.close()
        stop_on_signals.__exit__(None, None, None)
        if not options.keep:
            report.remove(workdir, created=made)
        result.duration_s = round(time.monotonic() - started, 2)
        result.pipekit_s = round(max(0.0, result.duration_s - sum(result.tools_s.values())), 2)
    return result


def _rehearse(
    options: RehearseOptions, ctx: StepContext, world: Any, env: dict[str, str], result: RehearseResult
) -> None:
    from pipekit.rehearsal import onboard, pipeline, review
    from pipekit.rehearsal import world as world_mod
    from pipekit.signing import cosign_keys

    console, workdir = ctx.console, Path(result.workdir)
    password = "pw-" + secrets.token_hex(8)
    private, public = cosign_keys.generate(password.encode(), n=1024)  # a throwaway key: cheap to derive
    onboarded = onboard.onboard(
        workdir,
        world,
        env,
        console,
        public_key=public,
        fail_at=options.fail_at,
        config=options.config,
        environments=options.environments or onboard.ENVIRONMENTS,
    )
    result.onboarding = onboard.summary(onboarded.init)
    console.info(result.onboarding)
    if onboarded.replaced:
        console.info(f"settings of {options.config}: kept init's for {', '.join(onboarded.replaced)}")
    world.follow(onboarded.gitops, onboard.SERVICE, onboard.BRANCH)
    settings = onboarded.settings
    environments = settings.get("environments") or {}
    world.seed_jira(settings, fail_at=options.fail_at)
    if options.fail_at == "deploy":
        first = next(iter(environments), "dev")
        failures.degrade(
            world.argocd,
            str(
                ((settings.get("argocd") or {}).get("apps") or {}).get(first) or f"{onboard.SERVICE}-{first}"
            ),
        )
    elif options.fail_at == "hook":
        world.hook_env["DEMO_API_MIN_READY"] = "99"

    file = onboarded.repo / "bitbucket-pipelines.yml"
    cache = pipeline.cache_root(env) / "run-pipeline"
    result.maven_cache = pipeline.seed_maven(cache, pipeline.maven_caches(file), env)
    where = pipeline.choose_image(options.image, env)
    result.where = where.note
    if where.image is None:
        console.warn(where.note)
    variables = workdir / "variables.json"
    channels = tuple(options.channels) or ("teams", "slack")
    defined: dict[str, Any] = {"repository": pipeline.variables(world, settings, channels, private, password)}
    by_pr = onboarded.pull_request_envs
    if by_pr:
        defined["deployments"] = world.deployment_variables(list(environments), by_pr)
    variables.write_text(json.dumps(defined, indent=2), encoding="utf-8")
    result.substitutions = [
        report.Substitution(*row) for row in (*onboard.SUBSTITUTIONS, *world_mod.SUBSTITUTED)
    ]
    result.substitutions.append(
        report.Substitution(
            "Bitbucket's cosign signing key (a secured variable)",
            "a throwaway key made for this rehearsal",
            "init --signing-public-key; PIPEKIT_SIGNING_KEY=env://COSIGN_PRIVATE_KEY, COSIGN_PASSWORD",
        )
    )
    if by_pr:
        result.substitutions += [report.Substitution(*row) for row in review.substituted(by_pr)]

    run_ctx = StepContext.create(
        env=env,
        run_record=workdir / "rehearse.json",
        config_path=None,
        debug=console.debug_enabled,
        cwd=onboarded.repo,
    )
    run_ctx.console = console

    def unsign(run_result: Any) -> str | None:
        deployments = [s for s in run_result.steps if s.deployment]
        assert world.registry is not None
        digest = _pushed_digest(workdir / "run", run_result)
        result.unsigned = failures.unsign(
            world.registry.url, str((settings.get("ecr") or {}).get("repository") or onboard.SERVICE), digest
        )
        console.warn(f"--fail-at signature: deleted the signature {result.unsigned} from the registry")
        return deployments[0].name if deployments else None

    def approving(step: str) -> None:
        console.info(
            f"── approving {step!r} (trigger: manual), as the release manager's click in Bitbucket would"
        )

    signing = options.fail_at == "signature"
    reviewer = review.reviewer(world, onboarded, settings, onboard.BRANCH) if by_pr else None
    try:
        runs = pipeline.run_all(
            run_ctx,
            onboarded.repo,
            workdir / "run",
            variables,
            cache,
            where,
            until=options.until,
            stop_for=failures.BUILD_STEP if signing else None,
            between=unsign if signing else None,
            on_pause=approving,
        )
    finally:
        reviewed = reviewer.stop() if reviewer is not None else []
    steps = pipeline.steps_of(runs)
    reviewed = review.outcomes(reviewed, workdir / "run", steps)
    review.write(reviewed, workdir / "pull-requests")
    result.pull_requests = [r.line() for r in reviewed]
    result.cleanup_problems += reviewer.problems if reviewer is not None else []
    approved = {r.approved for r in runs if r.approved}
    tools = pipeline.tool_seconds(workdir / "run", steps)
    for step in steps:
        result.stages.append(
            StageOutcome(
                step.name,
                step.status,
                step.duration_s,
                _detail(step),
                _ran_in(step),
                step.name in approved,
                {k: round(v, 2) for k, v in tools[step.key].items()},
            )
        )
    result.tools_s = pipeline.on_the_path(file, steps, tools)
    if options.fail_at:
        result.fail_step = failures.failing_step(options.fail_at, steps, environments)
    if any(s.deployment and s.status == "passed" for s in steps):
        pipeline.views(ctx, onboarded, result)
    assert world.sink is not None
    received = list(world.sink.requests)
    result.cards = report.write_cards(received, workdir / "cards")
    result.notifications = len(result.cards)
    result.code_insights = sum(1 for r in received if r.path.startswith("/bitbucket/"))
    renderer_env = {
        **env,
        **(
            {"PIPEKIT_CARD_RENDERER_DIR": str(options.card_renderer_dir)} if options.card_renderer_dir else {}
        ),
    }
    page, result.card_page_note = report.card_page(result.cards, workdir / "cards", renderer_env)
    result.card_page = str(page)


def _pushed_digest(folder: Path, run_result: Any) -> str:
    """The digest the build step pushed, from the run record it kept as an artifact."""
    from pipekit.core.outputs import EcrPushResult
    from pipekit.core.runrecord import RunRecord

    for step in reversed(run_result.steps):
        record = folder / "artifacts" / step.key / "_shared" / ".pipekit" / "run.json"
        if record.is_file():
            digest = EcrPushResult.read(RunRecord.load(record)).digest
            if digest:
                return str(digest)
    raise RuntimeError("--fail-at signature: the build step recorded no pushed digest")


def _detail(step: Any) -> str:
    """The step's last ``OK:`` or ``ERROR:`` line (its log is masked), else why it did not run."""
    if step.status in ("not-run", "skipped", "paused"):
        return step.reason or ""
    try:
        lines = Path(step.log).read_text(encoding="utf-8").splitlines() if step.log else []
    except OSError:
        lines = []
    told = [line for line in lines if line.startswith(("OK: ", "ERROR: ")) and "sent to " not in line]
    return (told[-1] if told else step.reason or "").removeprefix("OK: ")[:160]


def _ran_in(step: Any) -> str:
    return (
        f"image {step.local_image}" if step.execution == "image" else "this machine" if step.execution else ""
    )


@step_command(
    "rehearse",
    RehearseOptions,
    help="Run the pipeline pipekit init writes, as Bitbucket runs it, against local stand-ins.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> RehearseResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> RehearseOptions:
    from dataclasses import replace

    from pipekit.core.errors import BadInput
    from pipekit.rehearsal import onboard

    options = resolve(RehearseOptions, ctx, flags).options
    config = ctx.config.path  # --config FILE, PIPEKIT_CONFIG, or ./pipekit.yaml, as for every step
    environments = None
    if config:  # checked before anything is made
        settings = onboard.read_settings(config)
        environments = onboard.environments_of(settings, str(config))
        configured = (settings.get("notify") or {}).get("channels") or []
        if configured and options.channels and not any(c.get("type") in options.channels for c in configured):
            raise BadInput(
                f"--channel {','.join(options.channels)}: {config} configures no channel of that type "
                f"(notify.channels: {', '.join(str(c.get('name')) for c in configured)})"
            )
        if options.fail_at in ("gate", "signature"):
            gate = "jira" if options.fail_at == "gate" else "signature"
            envs = settings.get("environments") or {}
            if not any(
                gate in ((conf or {}).get("gates") or []) for conf in envs.values() if isinstance(conf, dict)
            ):
                raise BadInput(
                    f"--fail-at {options.fail_at}: no environment of {config} has a {gate} gate to fail"
                )
    return replace(options, config=config, environments=environments)


if __name__ == "__main__":
    main()
