"""``pipekit update-tag``: set an image tag/digest in a Kustomize GitOps overlay, commit and push.

Gather the image reference (flags, else the run record), clone the GitOps repo shallow and
sparse, edit the overlay's ``images:`` entry surgically, validate it and render it with
kustomize, commit with trailers, push with fetch-re-apply-retry, record the GitOps revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from pipekit.core.errors import BadInput, Interrupted
from pipekit.core.options import option, resolve
from pipekit.core.outputs import BuildResult, EcrPushResult, UpdateTagResult, UpdateTagStatus
from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext, step_command
from pipekit.gitops import settings
from pipekit.gitops.refs import ImageRef, check_digest, check_tag
from pipekit.promotion.delivery import DeliveryOptions

__all__ = ["UpdateTagOptions", "UpdateTagResult", "commit_message", "main", "options_from", "run", "validate"]


@dataclass(kw_only=True)
class UpdateTagOptions(DeliveryOptions, settings.WriteOptions):
    path: str = option(
        "", flag="--path", help="Overlay directory in the repo [default: gitops.overlay template for --env]."
    )
    image: str = option(
        "",
        flag="--image",
        config="gitops.image",
        min_length=1,  # a flag's value is used as is
        help="images[].name to edit ({service} filled in) [default: the run record's image].",
    )
    tag: str | None = option(flag="--tag", help="newTag to set [default: the run record's first tag].")
    digest: str | None = option(
        flag="--digest", help="digest (sha256:...) to set [default: the run record's ECR digest]."
    )
    new_name: str | None = option(flag="--new-name", help="newName to set.")
    create: bool = option(False, flag="--create", help="Add the images entry (or values key) when missing.")
    dry_run: bool = option(
        False, flag="--dry-run", help="Print the diff that would be committed; push nothing."
    )
    environment: str | None = option(
        flag="--env",
        env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"),
        help="Environment (fills the overlay path from config).",
    )
    service: str | None = option(
        flag="--service", config="service", min_length=1, help="Service name [default: the repository slug]."
    )
    values_file: str | None = option(
        flag="--values-file",
        help="Helm values file (relative to --path) to edit instead of kustomization.yaml.",
    )
    key: str | None = option(flag="--key", help="Key path in --values-file, e.g. image.tag.")
    build_number: int | None = option(
        flag="--build-number", env="BITBUCKET_BUILD_NUMBER", minimum=0, help="Pipeline build number."
    )
    force: bool = option(
        False, flag="--force", help="Write even if a newer build wrote the entry (a deliberate rollback)."
    )
    source_commit: str | None = None
    source_committed_at: str | None = None
    build_url: str | None = None


def run(options: UpdateTagOptions, ctx: StepContext) -> UpdateTagResult:
    validate(options)
    from pipekit.promotion.pull_request_settings import rule_for

    with ctx.record.recording(UpdateTagResult.SECTION) as outputs:
        want = ImageRef(
            name=options.image,
            new_name=options.new_name,
            new_tag=options.tag,
            digest=options.digest,
            build=options.build_number,
        )
        service = options.service or options.image.rsplit("/", 1)[-1]
        edit = settings.image_edit(
            options.path,
            want,
            create=options.create,
            values_file=options.values_file,
            key=options.key,
            message=lambda old: commit_message(options, service, old),
            force=options.force,
        )
        writer = options.writer(ctx)
        rule = rule_for(options.environments, options.environment, options.via)
        if rule.by_pull_request:
            return by_pull_request(ctx, options, rule, service, edit, writer, outputs)
        try:
            outcome = writer.write(
                settings.sparse_for(ctx, options.path, service, options.values_file),
                edit,
                dry_run=options.dry_run,
            )
        except Interrupted as stop:
            record_interrupted(ctx, options, service, outputs, stop)
            raise
        old = edit.old
        status = "superseded" if outcome.change.note.startswith("superseded") else outcome.status
        result = _result(
            options,
            service,
            status,
            outcome.revision,
            old=old.__dict__ if old else None,
            retries=outcome.retries,
            diff=outcome.diff,
            message=outcome.change.note,
            workloads=outcome.workloads,
        )
        result.write_to(outputs)
    report(ctx, result)
    return result


def _result(
    options: UpdateTagOptions, service: str, status: UpdateTagStatus, gitops_revision: str, **found: Any
) -> UpdateTagResult:
    """The step's result: what it was asked to write, its status and GitOps revision, and the rest."""
    return UpdateTagResult(
        status=status,
        gitops_repo=options.gitops_repo,
        gitops_revision=gitops_revision,
        environment=options.environment,
        service=service,
        image=options.image,
        tag=options.tag,
        digest=options.digest,
        overlay=options.path,
        **found,
    )


def by_pull_request(
    ctx: StepContext,
    options: UpdateTagOptions,
    rule: Any,
    service: str,
    edit: Any,
    writer: Any,
    outputs: dict[str, Any],
) -> UpdateTagResult:
    """The same commit on ``pipekit/<service>/<env>/<tag>`` and a pull request to the GitOps branch."""
    from pipekit.promotion.delivery import ChangeRequest, deliver

    if not options.environment:
        raise BadInput("--via pull-request needs --env (the branch and the environment's pull_request rule)")
    version = options.tag or (options.digest or "")[:19]
    result = _result(options, service, "unchanged", "")

    def keep(entry: dict[str, Any]) -> None:
        result.pull_request = entry
        result.write_to(outputs)

    change = ChangeRequest(
        service,
        options.environment,
        settings.sparse_for(ctx, options.path, service, options.values_file),
        edit,
        lambda: version,
        lambda: f"Deploy {service} {version} to {options.environment}",
    )
    done = deliver(ctx, writer, rule, options=options, change=change, dry_run=options.dry_run, record_to=keep)
    result.status = done.status
    result.gitops_revision, result.diff, result.message = (
        done.merge_commit or "",
        done.outcome.diff,
        done.outcome.change.note,
    )
    result.pull_request = done.record
    result.write_to(outputs)
    if result.status == "dry-run":
        report(ctx, result)
    return result


def record_interrupted(
    ctx: StepContext, options: UpdateTagOptions, service: str, outputs: dict[str, Any], stop: Interrupted
) -> None:
    """After a signal the record says what the GitOps repository holds: pushed (with its
    revision, for wait-for-argocd), not pushed, or unknown; never the previous run's revision."""
    from pipekit.gitops.writer import WriteOutcome

    after = stop.result if isinstance(stop.result, WriteOutcome) else None
    status = cast(UpdateTagStatus, after.status if after is not None else "not-pushed")
    # outputs were cleared as the step started: no earlier revision is left
    _result(options, service, status, after.revision if after else "", retries=None).write_to(outputs)
    if status == "pushed":
        ctx.console.warn(
            f"{stop} during the push: the GitOps repository has it as {short_revision(after.revision)}"
            if after
            else f"{stop}"
        )
    elif status == "unknown":
        ctx.console.warn(
            f"{stop} during the push, and the GitOps repository could not be asked whether "
            f"{short_revision(after.revision) if after else 'the commit'} landed: "
            "check it before running again"
        )
    else:
        ctx.console.warn(f"{stop}: nothing was pushed to the GitOps repository")


def validate(options: UpdateTagOptions) -> None:
    from pipekit.images.tags import validate_name  # the one image-name rule (distribution's grammar)

    if not options.gitops_repo:
        raise BadInput("no GitOps repository: pass --gitops-repo or set gitops.repo in pipekit.yaml")
    if not options.path:
        raise BadInput("no overlay: pass --path or --env with gitops.overlay in pipekit.yaml")
    if not options.image:
        raise BadInput("no image name: pass --image, set gitops.image, or run build/ecr-push first")
    validate_name(options.image, source="--image")
    if options.new_name is not None:
        validate_name(options.new_name, source="--new-name")
    if options.build_number is not None and options.build_number < 0:
        raise BadInput(
            f"--build-number {options.build_number}: must be a whole number >= 0 (a pipeline build number)"
        )
    if options.tag is None and options.digest is None:
        raise BadInput("nothing to set: pass --tag and/or --digest (or run build/ecr-push first)")
    if options.tag is not None:
        check_tag(options.tag)
    if options.digest is not None:
        check_digest(options.digest)
    if bool(options.values_file) != bool(options.key):
        raise BadInput(
            "--values-file and --key go together (e.g. --values-file values-dev.yaml --key image.tag)"
        )
    if options.values_file and options.tag is None:
        raise BadInput("--values-file needs --tag (the value written at --key)")


def commit_message(options: UpdateTagOptions, service: str, old: ImageRef | None) -> str:
    from pipekit.gitops import trailers

    env = options.environment or options.path
    new = options.tag or (options.digest or "")[:19]
    subject = f"{service}: {env} -> {new}" if old is None else f"{service}: {env} {old.version} -> {new}"
    body = [
        f"Image: {options.new_name or options.image}"
        + (f":{options.tag}" if options.tag else "")
        + (f"@{options.digest}" if options.digest else "")
    ]
    if options.source_commit:
        body.append(f"Source commit: {options.source_commit}")
    if options.build_url:
        body.append(f"Build: {options.build_url}")
    return trailers.commit_message(
        subject,
        body,
        trailers.Trailers(
            environment=options.environment,
            build_url=options.build_url,
            groups=[
                trailers.Group(
                    service=service,
                    image=options.new_name or options.image,
                    image_name=options.image,
                    tag=options.tag,
                    digest=options.digest,
                    source_commit=options.source_commit,
                    source_committed_at=options.source_committed_at,
                    build_number=options.build_number,
                )
            ],
        ),
    )


def report(ctx: StepContext, result: UpdateTagResult) -> None:
    con = ctx.console
    where = f"{result.overlay} ({result.environment})" if result.environment else result.overlay
    if result.status == "dry-run":
        con.info(f"dry run: the change to {where} that would be committed:")
        con.print(result.diff.rstrip("\n"))
    elif result.status == "unchanged":
        con.success(f"{where} already at {result.tag or result.digest}: nothing committed")
    elif result.status == "superseded":
        con.warn(f"{where}: {result.message}; nothing committed")
    else:
        con.success(
            f"{where}: {result.image} -> {result.tag or result.digest} pushed as "
            f"{short_revision(result.gitops_revision)}"
            + (f" after {result.retries} retries" if result.retries else "")
        )
    for name in result.workloads:
        con.debug(f"renders into {name}")


@step_command(
    "update-tag",
    UpdateTagOptions,
    help="Set an image tag/digest in a Kustomize GitOps overlay, commit and push.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> UpdateTagResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> UpdateTagOptions:
    """The declared values (flag > env > pipekit.yaml > default),
    then the run record's image for what is left."""
    resolved = resolve(UpdateTagOptions, ctx, flags)
    o = resolved.options
    service = o.service or ctx.service
    build, ecr = BuildResult.read(ctx.record), EcrPushResult.read(ctx.record)
    recorded = (ecr.image_uri if ecr.succeeded else None) or (build.image if build.succeeded else None)
    image = o.image
    if not resolved.source("image").startswith("flag"):  # gitops.image is a template: {service} filled in
        image = settings.image_name(o.image, service, ctx.config.where("gitops", "image"), recorded) or ""
    path = o.path
    if not path and o.environment:
        path = settings.overlay_for(o.environment, service, o.overlay, o.environments)
    tag, digest = o.tag, o.digest
    if tag is None and digest is None and not o.values_file:
        tags = (ecr.tags if ecr.succeeded else None) or (build.tags if build.succeeded else None) or []
        tag = str(tags[0]) if tags else None
        digest = ecr.digest if ecr.succeeded else None
    return replace(
        o,
        service=service,
        image=image,
        path=path,
        tag=tag,
        digest=digest,
        build_url=ctx.pipeline.pipeline_url,
        source_commit=(build.source_commit if build.succeeded else None) or ctx.pipeline.commit,
        source_committed_at=(build.source_committed_at if build.succeeded else None)
        or ctx.pipeline.committed_at,
    )


if __name__ == "__main__":
    main()
