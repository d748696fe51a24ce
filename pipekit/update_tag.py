"""``pipekit update-tag``: set an image tag/digest in a Kustomize GitOps overlay, commit and push.

Gather the image reference (flags, else the run record), clone the GitOps repo shallow and
sparse, edit the overlay's ``images:`` entry surgically, validate it and render it with
kustomize, commit with trailers, push with fetch-re-apply-retry, record the GitOps revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from pipekit.core.config import pick
from pipekit.core.errors import BadInput, Interrupted
from pipekit.core.step import StepContext, step_command
from pipekit.gitops import settings
from pipekit.gitops.refs import ImageRef, check_digest, check_tag


@dataclass
class UpdateTagOptions:
    gitops_repo: str
    path: str  # overlay directory inside the repo
    image: str
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = None
    branch: str = "main"
    create: bool = False
    dry_run: bool = False
    values_file: str | None = None  # a Helm values file (relative to path) instead of the kustomization
    key: str | None = None  # its dotted key path, e.g. image.tag
    environment: str | None = None
    service: str | None = None
    build_number: int | None = None
    source_commit: str | None = None
    source_committed_at: str | None = None
    build_url: str | None = None
    renderer: str = "kubectl kustomize {dir}"
    push_retries: int = 30
    force: bool = False  # write even when a newer build wrote the entry (a deliberate rollback)


@dataclass
class UpdateTagResult:
    status: str  # pushed | unchanged | superseded | dry-run
    gitops_repo: str
    gitops_revision: str
    environment: str | None
    service: str | None
    image: str
    tag: str | None
    digest: str | None
    overlay: str
    old: dict[str, Any] | None = None
    retries: int = 0
    diff: str = ""
    message: str = ""
    workloads: list[str] = field(default_factory=list)


def run(options: UpdateTagOptions, ctx: StepContext) -> UpdateTagResult:
    validate(options)
    with ctx.record.recording("update_tag") as outputs:
        want = ImageRef(name=options.image, new_name=options.new_name, new_tag=options.tag,
                        digest=options.digest, build=options.build_number)
        service = options.service or options.image.rsplit("/", 1)[-1]
        edit = settings.image_edit(options.path, want, create=options.create, values_file=options.values_file,
                                   key=options.key, message=lambda old: commit_message(options, service, old),
                                   force=options.force)
        writer = settings.writer(ctx, options.gitops_repo, options.branch, options.renderer, options.push_retries)
        try:
            outcome = writer.write(settings.sparse_for(ctx, options.path, service, options.values_file), edit,
                                   dry_run=options.dry_run)
        except Interrupted as stop:
            record_interrupted(ctx, options, service, outputs, stop)
            raise
        old = edit.old
        status = "superseded" if outcome.change.note.startswith("superseded") else outcome.status
        result = UpdateTagResult(
            status=status, gitops_repo=options.gitops_repo, gitops_revision=outcome.revision,
            environment=options.environment, service=service, image=options.image, tag=options.tag,
            digest=options.digest, overlay=options.path, old=old.__dict__ if old else None,
            retries=outcome.retries, diff=outcome.diff, message=outcome.change.note, workloads=outcome.workloads)
        outputs.update(gitops_repo=options.gitops_repo, environment=options.environment, service=service,
                       image=options.image, tag=options.tag, digest=options.digest, overlay=options.path,
                       status=status, retries=outcome.retries)
        if not options.dry_run:  # a dry run changed nothing for wait-for-argocd to wait for
            outputs["gitops_revision"] = outcome.revision
    report(ctx, result)
    return result


def record_interrupted(ctx: StepContext, options: UpdateTagOptions, service: str, outputs: dict[str, Any],
                       stop: Interrupted) -> None:
    """After a signal the record says what the GitOps repository holds: pushed (with its
    revision, for wait-for-argocd), not pushed, or unknown; never the previous run's revision."""
    from pipekit.gitops.writer import Outcome

    after = stop.result if isinstance(stop.result, Outcome) else None
    status = after.status if after is not None else "not-pushed"
    outputs.update(gitops_repo=options.gitops_repo, environment=options.environment, service=service,
                   image=options.image, tag=options.tag, digest=options.digest, overlay=options.path,
                   status=status, gitops_revision=after.revision if after and status == "pushed" else None)
    if status == "pushed":
        ctx.console.warn(f"{stop} during the push: the GitOps repository has it as {after.revision[:12]}"
                         if after else f"{stop}")
    elif status == "unknown":
        ctx.console.warn(f"{stop} during the push, and the GitOps repository could not be asked whether "
                         f"{after.revision[:12] if after else 'the commit'} landed: check it before running again")
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
        raise BadInput(f"--build-number {options.build_number}: must be a whole number >= 0 (a pipeline build number)")
    if options.tag is None and options.digest is None:
        raise BadInput("nothing to set: pass --tag and/or --digest (or run build/ecr-push first)")
    if options.tag is not None:
        check_tag(options.tag)
    if options.digest is not None:
        check_digest(options.digest)
    if bool(options.values_file) != bool(options.key):
        raise BadInput("--values-file and --key go together (e.g. --values-file values-dev.yaml --key image.tag)")
    if options.values_file and options.tag is None:
        raise BadInput("--values-file needs --tag (the value written at --key)")


def commit_message(options: UpdateTagOptions, service: str, old: ImageRef | None) -> str:
    from pipekit.gitops.writer import message

    env = options.environment or options.path
    new = options.tag or (options.digest or "")[:19]
    subject = f"{service}: {env} -> {new}" if old is None else f"{service}: {env} {old.version} -> {new}"
    body = [f"Image: {options.new_name or options.image}" + (f":{options.tag}" if options.tag else "")
            + (f"@{options.digest}" if options.digest else "")]
    if options.source_commit:
        body.append(f"Source commit: {options.source_commit}")
    if options.build_url:
        body.append(f"Build: {options.build_url}")
    return message(subject, body, [
        ("Pipekit-Service", service),
        ("Pipekit-Environment", options.environment),
        ("Pipekit-Image", options.new_name or options.image),
        ("Pipekit-Tag", options.tag),
        ("Pipekit-Digest", options.digest),
        ("Pipekit-Source-Commit", options.source_commit),
        ("Pipekit-Source-Committed-At", options.source_committed_at),
        ("Pipekit-Build-Url", options.build_url),
        ("Pipekit-Build-Number", str(options.build_number) if options.build_number is not None else None),
    ])


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
        con.success(f"{where}: {result.image} -> {result.tag or result.digest} pushed as {result.gitops_revision[:12]}"
                    + (f" after {result.retries} retries" if result.retries else ""))
    for name in result.workloads:
        con.debug(f"renders into {name}")


@step_command("update-tag", help="Set an image tag/digest in a Kustomize GitOps overlay, commit and push.")
@click.option("--gitops-repo", help="GitOps repository URL or path [env PIPEKIT_GITOPS_REPO; config gitops.repo].")
@click.option("--path", "path", help="Overlay directory in the repo [default: gitops.overlay template for --env].")
@click.option("--image", help="images[].name to edit [config gitops.image; default: run record image].")
@click.option("--tag", help="newTag to set [default: the run record's first tag].")
@click.option("--digest", help="digest (sha256:...) to set [default: the run record's ECR digest].")
@click.option("--new-name", help="newName to set.")
@click.option("--branch", help="Branch to write [env PIPEKIT_GITOPS_BRANCH; config gitops.branch; default main].")
@click.option("--create", is_flag=True, help="Add the images entry (or values key) when missing.")
@click.option("--dry-run", is_flag=True, help="Print the diff that would be committed; push nothing.")
@click.option("--env", "environment", help="Environment (fills the overlay path from config) [env PIPEKIT_ENV].")
@click.option("--service", help="Service name [config service; default repo slug].")
@click.option("--values-file", help="Helm values file (relative to --path) to edit instead of kustomization.yaml.")
@click.option("--key", help="Key path in --values-file, e.g. image.tag.")
@click.option("--renderer", help="Render command ({dir} = overlay) or 'none' [config gitops.renderer].")
@click.option("--build-number", type=int, help="Pipeline build number [default BITBUCKET_BUILD_NUMBER].")
@click.option("--force", is_flag=True, help="Write even if a newer build wrote the entry (a deliberate rollback).")
def main(ctx: StepContext, **opts: Any) -> UpdateTagResult:
    return run(options_from(ctx, opts), ctx)


def options_from(ctx: StepContext, opts: dict[str, Any]) -> UpdateTagOptions:
    cfg = ctx.config.section("gitops")
    env_name = ctx.environment(opts.get("environment"))
    service = opts.get("service") or ctx.service
    image = opts.get("image") or settings.image_name(ctx, service)
    path = opts.get("path")
    if not path and env_name:
        path = settings.overlay_for(ctx, env_name, service)
    tag, digest = opts.get("tag"), opts.get("digest")
    if tag is None and digest is None and not opts.get("values_file"):
        tags = ctx.record.find("tags", "ecr_push", "build") or []
        tag = str(tags[0]) if tags else None
        digest = ctx.record.output("ecr_push", "digest")
    build = opts.get("build_number")
    if build is None and (ctx.pipeline.build_number or "").isdigit():
        build = int(ctx.pipeline.build_number or 0)
    return UpdateTagOptions(
        gitops_repo=pick(opts.get("gitops_repo"), "PIPEKIT_GITOPS_REPO", cfg.get("repo"), "", ctx.env),
        path=path or "", image=image or "", tag=tag, digest=digest, new_name=opts.get("new_name"),
        branch=pick(opts.get("branch"), "PIPEKIT_GITOPS_BRANCH", cfg.get("branch"), "main", ctx.env),
        create=bool(opts.get("create")), dry_run=bool(opts.get("dry_run")),
        values_file=opts.get("values_file"), key=opts.get("key"), environment=env_name, service=service,
        build_number=build,
        source_commit=ctx.record.output("build", "source_commit") or ctx.pipeline.commit,
        source_committed_at=ctx.record.output("build", "source_committed_at") or ctx.pipeline.committed_at,
        build_url=ctx.pipeline.pipeline_url,
        renderer=pick(opts.get("renderer"), "PIPEKIT_GITOPS_RENDERER", cfg.get("renderer"),
                      "kubectl kustomize {dir}", ctx.env),
        push_retries=int(cfg.get("push_retries", 30)), force=bool(opts.get("force")),
    )


if __name__ == "__main__":
    main()
