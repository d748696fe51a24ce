"""``pipekit rollback``: put an earlier image back into an environment by writing a GitOps commit.

Read the service's deployments to the environment from the GitOps history, choose the image
(``--to TAG|DIGEST``, or ``--steps N`` distinct images back, default 1), refuse one never
deployed there unless ``--force``, and write it through the update-tag writer (same validation,
render, push retries) with the winner rule overridden on purpose and a ``Pipekit-Rollback-Of``
trailer naming the commit rolled back, so ``pipekit dora`` counts it. When the branch moved
after the history was read (another deploy landed), the history is read again and the rollback
goes on only if what runs is still what it decided on. ``--wait`` then runs wait-for-argocd for
that revision.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import BadInput, CheckFailed, ExitCode, ExternalError, PipekitError, TimedOut
from pipekit.core.options import option, resolve
from pipekit.core.outputs import RollbackResult
from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext, step_command
from pipekit.deployments import settings as history_settings
from pipekit.deployments.model import Deployment
from pipekit.gitops.settings import WriteOptions
from pipekit.promotion.delivery import DeliveryOptions

if TYPE_CHECKING:
    from pipekit.clients.git import Git
    from pipekit.gitops.edits import ImageEdit
    from pipekit.gitops.refs import ImageRef
    from pipekit.gitops.writer import Change

__all__ = [
    "RollbackEdit",
    "RollbackOptions",
    "RollbackResult",
    "choose",
    "main",
    "options_from",
    "read_history",
    "run",
    "still_current",
    "wait_argv",
]


@dataclass(kw_only=True)
class RollbackOptions(DeliveryOptions, WriteOptions):
    service: str = option("", flag="--service", config="service", help="The service to roll back.")
    environment: str = option("", flag="--env", env="PIPEKIT_ENV", help="The environment to roll back.")
    to: str | None = option(
        flag="--to", metavar="TAG|DIGEST", help="The image to go back to (a tag or sha256: digest)."
    )
    steps: int | None = option(
        flag="--steps", minimum=1, help="Go back this many distinct images [default 1]."
    )
    dry_run: bool = option(False, flag="--dry-run", help="Print the diff; push nothing.")
    wait: bool = option(False, flag="--wait", help="Then wait with wait-for-argocd for the revision.")
    force: bool = option(False, flag="--force", help="Allow an image never deployed to that environment.")
    image_where: str = "pipekit.yaml"  # where the gitops.image template was set, for its error message


def choose(deployments: list[Deployment], options: RollbackOptions) -> tuple[Deployment, Deployment | None]:
    """(the deployment running now, the earlier one to go back to; None: --force to an unknown image)."""
    if not deployments:
        raise CheckFailed(
            f"{options.service} has no deployment in {options.environment} in the GitOps history",
            hint="check --service / --env and gitops.overlay",
        )
    current = deployments[-1]
    if options.to:
        for dep in reversed(deployments):
            if options.to in (dep.tag, dep.digest):
                return current, dep
        if not options.force:
            raise CheckFailed(
                f"{options.service}: {options.to} was never deployed to {options.environment}",
                hint="pass --force to deploy it anyway",
            )
        return current, None
    wanted, seen = options.steps or 1, {current.version}
    for dep in reversed(deployments):
        if dep.version not in seen:
            seen.add(dep.version)
            if len(seen) - 1 == wanted:
                return current, dep
    raise CheckFailed(
        f"{options.service} in {options.environment}: fewer than {wanted} earlier images to go back to"
    )


def run(options: RollbackOptions, ctx: StepContext) -> RollbackResult:
    from pipekit.gitops import settings
    from pipekit.gitops.refs import ImageRef, check_digest, check_tag
    from pipekit.promotion.pull_request_settings import rule_for

    if not options.service or not options.environment:
        raise BadInput("name what to roll back: --service NAME --env ENV")
    if options.to and options.steps:
        raise BadInput("--to and --steps go separately: pass one")
    if options.to and options.to.startswith("sha256:"):
        check_digest(options.to)
    elif options.to:
        check_tag(options.to)
    tip, history = read_history(ctx, options)
    current, target = choose(history, options)
    tag = target.tag if target else (None if (options.to or "").startswith("sha256:") else options.to)
    digest = target.digest if target else (options.to if (options.to or "").startswith("sha256:") else None)
    configured = settings.image_name(options.image, options.service, options.image_where, None)
    names = (
        [configured] if configured else [n for n in (current.image_name, current.image, options.service) if n]
    )
    want = ImageRef(name=names[0], new_tag=tag, digest=digest, build=target.build_number if target else None)
    path = settings.overlay_for(options.environment, options.service, options.overlay, options.environments)
    with ctx.record.recording(RollbackResult.SECTION) as outputs:
        edit = settings.image_edit(
            path,
            want,
            create=False,
            values_file=None,
            key=None,
            message=lambda old: commit_message(ctx, options, current, target, want, old),
            force=True,
        )  # the winner rule, overridden
        guarded = RollbackEdit(
            edit,
            names,
            target.image if target else None,
            lambda git: still_current(ctx, options, current, tip, git),
        )
        writer = options.writer(ctx)
        rule = rule_for(options.environments, options.environment, options.via)
        result = RollbackResult(
            status="unchanged",
            service=options.service,
            environment=options.environment,
            rollback_of=current.commit,
            from_version=current.version,
            to_version=tag or digest or "",
            tag=tag,
            digest=digest,
            gitops_revision="",
            previously_deployed=target is not None,
        )
        if rule.by_pull_request:
            by_pull_request(
                ctx,
                options,
                rule,
                settings.sparse_for(ctx, path, options.service),
                guarded,
                writer,
                outputs,
                result,
            )
            if options.wait and result.gitops_revision:
                wait(ctx, options.environment, result.gitops_revision)
            return result
        outcome = writer.write(
            settings.sparse_for(ctx, path, options.service), guarded, dry_run=options.dry_run
        )
        result.status, result.gitops_revision, result.diff = outcome.status, outcome.revision, outcome.diff
        result.write_to(outputs)
    report(ctx, result)
    if options.wait and result.status == "pushed":
        wait(ctx, options.environment, result.gitops_revision)
    return result


def by_pull_request(
    ctx: StepContext,
    options: RollbackOptions,
    rule: Any,
    sparse: Any,
    edit: Any,
    writer: Any,
    outputs: dict[str, Any],
    result: RollbackResult,
) -> None:
    """The rollback commit on ``pipekit/<service>/<env>/<version>`` and a pull
    request to the GitOps branch."""
    from pipekit.promotion.delivery import ChangeRequest, deliver

    def keep(entry: dict[str, Any]) -> None:
        result.pull_request = entry
        result.write_to(outputs)

    version = result.tag or (result.digest or "")[:19]
    change = ChangeRequest(
        options.service,
        options.environment,
        sparse,
        edit,
        lambda: version,
        lambda: f"Roll back {options.service} to {version} in {options.environment}",
    )
    done = deliver(ctx, writer, rule, options=options, change=change, dry_run=options.dry_run, record_to=keep)
    result.status = done.status
    result.gitops_revision, result.diff, result.pull_request = (
        done.merge_commit or "",
        done.outcome.diff,
        done.record,
    )
    result.write_to(outputs)
    if result.status == "dry-run":
        report(ctx, result)


def read_history(ctx: StepContext, options: RollbackOptions) -> tuple[str, list[Deployment]]:
    """(the branch's tip commit, the service's deployments to the environment up to it)."""
    from pipekit.deployments import reader, source

    only = reader.Filter([options.environment], [options.service])
    with source.open_repo(options.gitops_repo, options.branch, ctx.env) as (git, rev):
        tip = git.output("rev-parse", "--verify", f"{rev}^{{commit}}")
        return tip, list(reader.read(git, history_settings.layout(ctx), rev=tip, only=only))


def still_current(
    ctx: StepContext, options: RollbackOptions, current: Deployment, tip: str, git: Git
) -> None:
    """Before each (re-)application of the rollback: when the branch moved since the history was
    read (another deploy landed before the clone, or a push was rejected), read it again on the
    new tip and go on only if the same deployment still runs; else CheckFailed, nothing committed."""
    if git.head() == tip:
        return
    _, fresh = read_history(ctx, options)
    now = fresh[-1] if fresh else None
    if now is None or now.commit != current.commit:
        runs = (
            f"{now.reference} ({now.kind}, GitOps commit {short_revision(now.commit)})"
            if now
            else "nothing pipekit knows"
        )
        raise CheckFailed(
            f"{options.service} in {options.environment} changed while the rollback was being written: "
            f"{runs} runs now, not {current.reference} ({short_revision(current.commit)}); "
            "nothing committed",
            hint="run pipekit rollback again to decide from what runs now",
        )


@dataclass
class RollbackEdit:
    """The overlay edit, applied only while what runs is what the rollback decided on, to the
    images entry the history names (``Pipekit-Image-Name``; for commits of earlier pipekit
    versions the entry whose name, else newName, is ``Pipekit-Image``)."""

    edit: ImageEdit
    names: list[str]
    image: str | None  # the image (newName, else name) the target deployment ran
    guard: Callable[[Git], None]

    def __call__(self, root: Path, git: Git) -> Change:
        from pipekit.gitops import kustomization
        from pipekit.gitops import overlay as ov

        self.guard(git)
        found = ov.kustomization_file(root / self.edit.overlay)
        if found is not None:
            target, rel = ov.inside(root, f"{self.edit.overlay}/{found.name}")
            entries = kustomization.entries(target.read_text(encoding="utf-8"), rel)
            entry = next((e for n in self.names for e in entries if e.name == n), None) or next(
                (e for n in self.names for e in entries if e.new_name == n), None
            )
            if entry is not None:
                self.edit.want.name = entry.name
                if entry.new_name and self.image and self.image not in (entry.name, entry.new_name):
                    self.edit.want.new_name = self.image  # the target ran from another repository
        return self.edit.apply(root)

    def warm(self) -> None:
        self.edit.warm()

    def render_dirs(self) -> list[str]:
        return self.edit.render_dirs()


def commit_message(
    ctx: StepContext,
    options: RollbackOptions,
    current: Deployment,
    target: Deployment | None,
    want: ImageRef,
    old: ImageRef | None,
) -> str:
    """The rollback's commit: update-tag's trailer vocabulary plus ``Pipekit-Rollback-Of``."""
    from pipekit.gitops import trailers

    version = want.new_tag or (want.digest or "")[:19]
    subject = (
        f"{options.service}: roll back {options.environment} "
        f"{current.tag or current.version[:19]} -> {version}"
    )
    entry = old.name if old is not None else want.name
    image = want.new_name or (old.new_name if old is not None else None) or entry
    at = target.source_committed_at if target else None
    return trailers.commit_message(
        subject,
        [f"Rolls back {short_revision(current.commit)} ({current.reference})."],
        trailers.Trailers(
            environment=options.environment,
            rollback_of=current.commit,
            build_url=ctx.pipeline.pipeline_url,
            groups=[
                trailers.Group(
                    service=options.service,
                    image=image,
                    image_name=entry,
                    tag=want.new_tag,
                    digest=want.digest,
                    source_commit=target.source_commit if target else None,
                    source_committed_at=at.isoformat() if at else None,
                    build_number=want.build,
                )
            ],
        ),
    )


def wait(ctx: StepContext, environment: str, revision: str) -> None:
    """Run wait-for-argocd for the rollback's revision (its own options: flags, env, pipekit.yaml)."""
    from pipekit.core import process

    proc = process.run(
        wait_argv(environment, revision), env=dict(ctx.env), check=False, stream=ctx.console.info
    )
    errors: dict[int, type[PipekitError]] = {
        ExitCode.BAD_INPUT: BadInput,
        ExitCode.EXTERNAL: ExternalError,
        ExitCode.TIMEOUT: TimedOut,
    }
    if proc.returncode != 0:
        raise errors.get(proc.returncode, CheckFailed)(
            f"rolled back as {short_revision(revision)}, but wait-for-argocd exited {proc.returncode}"
        )


_BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from pipekit.cli import main; main(sys.argv[1:])"


def wait_argv(environment: str, revision: str) -> list[str]:
    """``pipekit wait-for-argocd`` in an isolated interpreter (``-I``: nothing from the working
    directory or ``PYTHONPATH`` is imported) that finds this pipekit where it is."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [
        sys.executable,
        "-I",
        "-c",
        _BOOT,
        here,
        "wait-for-argocd",
        "--env",
        environment,
        "--revision",
        revision,
    ]


def report(ctx: StepContext, result: RollbackResult) -> None:
    con = ctx.console
    what = f"{result.service} in {result.environment}: {result.from_version[:19]} -> {result.to_version[:19]}"
    if not result.previously_deployed:
        con.warn(f"{result.to_version} was never deployed to {result.environment} (--force)")
    if result.status == "dry-run":
        con.info(f"dry run: rollback of {what} would commit:")
        con.print(result.diff.rstrip("\n"))
    elif result.status == "unchanged":
        con.success(f"{what}: already there; nothing committed")
    else:
        con.success(
            f"rolled back {what} as {short_revision(result.gitops_revision)} "
            f"(Pipekit-Rollback-Of {short_revision(result.rollback_of)})"
        )


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> RollbackOptions:
    options = resolve(RollbackOptions, ctx, flags).options
    return replace(
        options, service=options.service or ctx.service or "", image_where=ctx.config.where("gitops", "image")
    )


@step_command(
    "rollback", RollbackOptions, help="Put an earlier image back into an environment with a GitOps commit."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> RollbackResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
