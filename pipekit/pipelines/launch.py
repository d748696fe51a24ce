"""Everything ``run-pipeline`` settles before its first step: file, repository, trigger,
plan, variables, folders.

Every check that can refuse the run does so here, before anything starts (exit 2 naming the
file and line, the flag or the value; exit 1 when Bitbucket would start no pipeline at all).
"""

from __future__ import annotations

import secrets
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core import process
from pipekit.core.errors import BadInput
from pipekit.core.revision import short_revision
from pipekit.pipelines import caches, parse, plan, schema, selection
from pipekit.pipelines.artifacts import ArtifactStore
from pipekit.pipelines.defaults import Repository, RunInfo, braced
from pipekit.pipelines.plan import PlannedStep
from pipekit.pipelines.results import RunPipelineResult
from pipekit.pipelines.runcontext import RunContext
from pipekit.pipelines.runfolder import RunFolder, next_build_number
from pipekit.pipelines.variables import Variable, custom_values, load_files, parse_assignments

if TYPE_CHECKING:
    from pipekit.core.step import StepContext
    from pipekit.pipelines.executor import Executor
    from pipekit.pipelines.settings import RunPipelineOptions


@dataclass
class Prepared:
    ctx: RunContext
    plan: list[PlannedStep]
    folder: RunFolder
    result: RunPipelineResult
    start_at: PlannedStep | None = None
    until: PlannedStep | None = None
    state: dict[str, Any] = field(default_factory=dict)
    earlier: dict[str, str] = field(default_factory=dict)  # step statuses of the run --from continues

    def save_state(self, executor: Executor) -> None:
        statuses = dict(self.earlier)
        for step in executor.steps():
            if not (step.status == "skipped" and (step.reason or "").startswith("before --from")):
                statuses[step.key] = step.status
        self.folder.save_state({**self.state, "steps": statuses})


def git(repo: Path, *args: str, env: Any, check: bool = True) -> process.Result:
    return process.run(["git", "-C", str(repo), *args], env=env, timeout=60, check=check, error=BadInput)


def prepare(options: RunPipelineOptions, ctx: StepContext) -> Prepared:
    env = ctx.env
    path = options.file.resolve()
    if not path.is_file():
        raise BadInput(
            f"{options.file}: no such pipeline file", hint="pass the bitbucket-pipelines.yml to run"
        )
    top = git(path.parent, "rev-parse", "--show-toplevel", env=env, check=False)
    if top.returncode != 0:
        raise BadInput(f"{options.file}: not inside a git checkout (Bitbucket runs a repository's commits)")
    repo = Path(top.stdout.strip())
    file = parse.load(path)
    schema.check(file, env)
    warnings = [*file.document.warnings, *file.notes]

    branch_now = (
        git(repo, "symbolic-ref", "--short", "-q", "HEAD", env=env, check=False).stdout.strip() or None
    )
    trigger = selection.parse_trigger(options.trigger, branch_now)
    commit = _commit(repo, trigger, options.commit, env)
    pipeline = selection.select(file, trigger)
    laid_out = plan.lay_out(pipeline)
    plan.check(file, pipeline, laid_out)
    plan.check_approvals(laid_out, list(options.approve))
    start_at = plan.find(laid_out, options.from_step, "--from") if options.from_step else None
    until = plan.find(laid_out, options.until, "--until") if options.until else None
    if start_at and until and until.number < start_at.number:
        raise BadInput(f"--until {options.until!r} comes before --from {options.from_step!r}")

    variables = load_files(list(options.variables))
    assignments = parse_assignments(list(options.var), "--var")
    if pipeline.section != "custom" and assignments:
        raise BadInput("--var sets a custom pipeline's variables: this run is " + pipeline.label)
    custom: dict[str, Variable] = (
        custom_values(pipeline.variables, assignments, pipeline.label) if pipeline.section == "custom" else {}
    )
    if variables.environments_declared:
        for planned in laid_out:
            if planned.deployment and planned.deployment not in variables.deployments:
                raise BadInput(
                    f"step {planned.label!r} deploys to {planned.deployment!r}, an environment the "
                    "variables files do not declare",
                    hint="add it under deployments:",
                )
    image_map = _image_map(list(options.image_map))
    if (
        trigger.kind == "pr"
        and git(
            repo, "rev-parse", "--verify", "-q", f"refs/heads/{trigger.destination}", env=env, check=False
        ).returncode
        != 0
    ):
        raise BadInput(f"--trigger {trigger}: no branch {trigger.destination!r} in {repo} to merge into")
    warnings += _drift(repo, path, commit, env)

    folder = RunFolder(options.workdir, options.keep)
    try:
        return _assemble(
            options,
            ctx,
            repo,
            file,
            trigger,
            commit,
            branch_now,
            pipeline,
            laid_out,
            start_at,
            until,
            variables,
            custom,
            image_map,
            folder,
            warnings,
        )
    except BaseException:
        folder.close()
        raise


def _assemble(
    options: RunPipelineOptions,
    ctx: StepContext,
    repo: Path,
    file: Any,
    trigger: selection.Trigger,
    commit: str,
    branch_now: str | None,
    pipeline: Any,
    laid_out: list[PlannedStep],
    start_at: PlannedStep | None,
    until: PlannedStep | None,
    variables: Any,
    custom: dict[str, Variable],
    image_map: dict[str, str],
    folder: RunFolder,
    warnings: list[str],
) -> Prepared:
    previous = folder.state()
    if start_at is not None:
        if not previous or previous.get("pipeline") != pipeline.label or previous.get("commit") != commit:
            raise BadInput(
                f"--from {options.from_step!r}: {folder.path} holds no earlier run of {pipeline.label} at "
                f"{short_revision(commit)} to continue",
                hint="pass the --workdir of that run",
            )
    else:
        for sub in ("steps", "artifacts"):
            shutil.rmtree(folder.path / sub, ignore_errors=True)
    cache_root = (options.cache_dir or caches.default_root(ctx.env, repo)).resolve()
    store = caches.CacheStore(cache_root)
    if options.clear_caches:
        ctx.console.info(f"caches cleared ({store.clear()} cache(s)) in {cache_root}")
    if start_at is not None and previous is not None:
        build_number, pipeline_uuid = int(previous["build_number"]), str(previous["pipeline_uuid"])
    else:
        build_number, pipeline_uuid = next_build_number(cache_root), braced(uuid.uuid4())
    origin = git(repo, "remote", "get-url", "origin", env=ctx.env, check=False).stdout.strip()
    repository = Repository.identify(origin, repo.name)
    branch = (
        trigger.name if trigger.kind in ("branch", "pr") else None if trigger.kind == "tag" else branch_now
    )
    info = RunInfo(repository, trigger, commit, build_number, pipeline_uuid, branch)
    run_ctx = RunContext(
        file=file,
        repo=repo,
        commit=commit,
        trigger=trigger,
        branch=branch,
        info=info,
        variables=variables,
        custom=custom,
        workdir=folder.path,
        keep=options.keep,
        store=ArtifactStore(folder.path / "artifacts"),
        caches=store,
        image_map=image_map,
        host_env=ctx.env,
        console=ctx.console,
        run_id=secrets.token_hex(3),
    )
    result = RunPipelineResult(
        file=str(file.path),
        pipeline=pipeline.label,
        trigger=str(trigger),
        commit=commit,
        build_number=build_number,
        workdir=str(folder.path) if folder.kept else None,
        cache_dir=str(cache_root),
        warnings=warnings,
    )
    state = {
        "version": 1,
        "file": str(file.path),
        "pipeline": pipeline.label,
        "trigger": str(trigger),
        "commit": commit,
        "build_number": build_number,
        "pipeline_uuid": pipeline_uuid,
    }
    earlier = dict(previous.get("steps", {})) if start_at is not None and previous else {}
    if start_at is not None:
        unfinished = [
            p.label
            for p in laid_out
            if p.number < start_at.number and earlier.get(p.key) != "passed" and p.batch != start_at.batch
        ]
        if unfinished:
            warnings.append(
                "continuing after step(s) that did not pass in the earlier run (Bitbucket would not "
                "run later steps): " + ", ".join(unfinished)
            )
    for warning in warnings:
        ctx.console.warn(warning)
    ctx.console.info(
        f"{pipeline.label} for {trigger} at {short_revision(commit)} (build {build_number}): "
        f"{len(laid_out)} step(s)"
    )
    return Prepared(run_ctx, laid_out, folder, result, start_at, until, state, earlier)


def _commit(repo: Path, trigger: selection.Trigger, given: str, env: Any) -> str:
    ref = given
    if trigger.kind == "tag" and given == "HEAD":
        found = git(
            repo, "rev-parse", "--verify", "-q", f"refs/tags/{trigger.name}^{{commit}}", env=env, check=False
        )
        if found.returncode != 0:
            raise BadInput(f"--trigger {trigger}: no tag {trigger.name!r} in {repo}")
        return found.stdout.strip()
    found = git(repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", env=env, check=False)
    if found.returncode != 0:
        raise BadInput(f"--commit {given}: no such commit in {repo}")
    return found.stdout.strip()


def _image_map(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        image, sep, local = item.partition("=")
        if not sep or not image.strip() or not local.strip():
            raise BadInput(f"--image-map {item!r}: expected IMAGE=LOCAL_IMAGE")
        out[image.strip()] = local.strip()
    return out


def _drift(repo: Path, path: Path, commit: str, env: Any) -> list[str]:
    out = []
    status = git(repo, "status", "--porcelain", "--untracked-files=no", env=env, check=False).stdout.strip()
    if status:
        out.append(
            "the checkout has uncommitted changes: they are not part of the run (Bitbucket runs commits)"
        )
    rel = path.relative_to(repo).as_posix()
    committed = git(repo, "show", f"{commit}:{rel}", env=env, check=False)
    if committed.returncode != 0:
        out.append(f"{rel} is not in commit {short_revision(commit)}: Bitbucket would not see this file")
    elif committed.stdout != path.read_text(encoding="utf-8"):
        out.append(
            f"{rel} differs from the one in commit {short_revision(commit)}: running the working tree's"
        )
    return out
