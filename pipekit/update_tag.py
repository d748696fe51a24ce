"""``pipekit update-tag``: set an image tag/digest in a Kustomize GitOps overlay, commit and push.

Gather the image reference (flags, else the run record), clone the GitOps repo shallow and
sparse, edit the overlay's ``images:`` entry surgically, validate it and render it with
kustomize, commit with trailers, push with fetch-re-apply-retry, record the GitOps revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipekit.clients.git import Identity
from pipekit.core.errors import BadInput, Interrupted
from pipekit.core.options import Option, table_of
from pipekit.core.outputs import BuildOutputs, EcrPushOutputs, UpdateTagOutputs
from pipekit.core.step import StepContext, step_command
from pipekit.gitops import settings
from pipekit.gitops.refs import ImageRef, check_digest, check_tag
from pipekit.gitops.writer import DEFAULT_IDENTITY
from pipekit.promotion.delivery import DeliveryOptions, delivery_options
from pipekit.promotion.pull_request_settings import PullRequestRule, rule_for

OPTIONS = settings.OPTIONS + [
    Option("path", "--path", help="Overlay directory in the repo [default: gitops.overlay template for --env]."),
    Option("image", "--image", config="gitops.image",
           help="images[].name to edit ({service} filled in) [default: the run record's image]."),
    Option("tag", "--tag", help="newTag to set [default: the run record's first tag]."),
    Option("digest", "--digest", help="digest (sha256:...) to set [default: the run record's ECR digest]."),
    Option("new_name", "--new-name", help="newName to set."),
    Option("create", "--create", type="bool", default=False, help="Add the images entry (or values key) when missing."),
    Option("dry_run", "--dry-run", type="bool", default=False,
           help="Print the diff that would be committed; push nothing."),
    Option("environment", "--env", env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"),
           help="Environment (fills the overlay path from config)."),
    Option("service", "--service", config="service", help="Service name [default: the repository slug]."),
    Option("values_file", "--values-file", help="Helm values file (relative to --path) to edit instead of kustomization.yaml."),
    Option("key", "--key", help="Key path in --values-file, e.g. image.tag."),
    Option("build_number", "--build-number", env="BITBUCKET_BUILD_NUMBER", type="int", minimum=0,
           help="Pipeline build number."),
    Option("force", "--force", type="bool", default=False,
           help="Write even if a newer build wrote the entry (a deliberate rollback)."),
    Option("overlay", config="gitops.overlay", help="Overlay path template with {env} and {service}."),
    Option("environments", config="environments", type="data"),
    *table_of(DeliveryOptions),
]


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
    backoff_s: float = 0.5  # base of the jittered backoff between push retries
    username: str | None = None  # HTTPS username for PIPEKIT_GITOPS_TOKEN
    author: Identity = DEFAULT_IDENTITY
    committer: Identity | None = None  # default: the author
    delivery: DeliveryOptions = field(default_factory=DeliveryOptions)  # --via, --merge, --wait-merge
    rule: PullRequestRule = field(default_factory=PullRequestRule)  # the environment's via and pull_request


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
    pull_request: dict[str, Any] | None = None  # --via pull-request: id, url, state, branch, merge_commit


def run(options: UpdateTagOptions, ctx: StepContext) -> UpdateTagResult:
    validate(options)
    with ctx.record.recording(UpdateTagOutputs.SECTION) as outputs:
        want = ImageRef(name=options.image, new_name=options.new_name, new_tag=options.tag,
                        digest=options.digest, build=options.build_number)
        service = options.service or options.image.rsplit("/", 1)[-1]
        edit = settings.image_edit(options.path, want, create=options.create, values_file=options.values_file,
                                   key=options.key, message=lambda old: commit_message(options, service, old),
                                   force=options.force)
        writer = settings.writer(ctx, options.gitops_repo, options.branch, options.renderer, options.push_retries,
                                 backoff_s=options.backoff_s, username=options.username, author=options.author,
                                 committer=options.committer)
        if options.rule.by_pull_request:
            return by_pull_request(ctx, options, service, edit, writer, outputs)
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
        UpdateTagOutputs(
            gitops_repo=options.gitops_repo, environment=options.environment, service=service, image=options.image,
            tag=options.tag, digest=options.digest, overlay=options.path, result=status, retries=outcome.retries,
            # a dry run changed nothing for wait-for-argocd to wait for
            gitops_revision=None if options.dry_run else outcome.revision,
        ).write_to(outputs)
    report(ctx, result)
    return result


def by_pull_request(ctx: StepContext, options: UpdateTagOptions, service: str, edit: Any, writer: Any,
                    outputs: dict[str, Any]) -> UpdateTagResult:
    """The same commit on ``pipekit/<service>/<env>/<tag>`` and a pull request to the GitOps branch."""
    from pipekit.promotion.delivery import ChangeRequest, deliver

    if not options.environment:
        raise BadInput("--via pull-request needs --env (the branch and the environment's pull_request rule)")
    version = options.tag or (options.digest or "")[:19]
    base = UpdateTagOutputs(gitops_repo=options.gitops_repo, environment=options.environment, service=service,
                            image=options.image, tag=options.tag, digest=options.digest, overlay=options.path)

    def keep(entry: dict[str, Any]) -> None:
        UpdateTagOutputs(pull_request=entry).write_to(outputs)

    change = ChangeRequest(service, options.environment, settings.sparse_for(ctx, options.path, service,
                                                                              options.values_file),
                           edit, lambda: version, lambda: f"Deploy {service} {version} to {options.environment}")
    base.write_to(outputs)
    done = deliver(ctx, writer, options.rule, options=options.delivery, change=change, dry_run=options.dry_run,
                   record_to=keep)
    UpdateTagOutputs(result=done.status, gitops_revision=done.merge_commit).write_to(outputs)
    return UpdateTagResult(status=done.status, gitops_repo=options.gitops_repo,
                           gitops_revision=done.merge_commit or "", environment=options.environment, service=service,
                           image=options.image, tag=options.tag, digest=options.digest, overlay=options.path,
                           diff=done.outcome.diff, message=done.outcome.change.note, pull_request=done.record)


def record_interrupted(ctx: StepContext, options: UpdateTagOptions, service: str, outputs: dict[str, Any],
                       stop: Interrupted) -> None:
    """After a signal the record says what the GitOps repository holds: pushed (with its
    revision, for wait-for-argocd), not pushed, or unknown; never the previous run's revision."""
    from pipekit.gitops.writer import Outcome

    after = stop.result if isinstance(stop.result, Outcome) else None
    status = after.status if after is not None else "not-pushed"
    UpdateTagOutputs(  # outputs were cleared as the step started: no earlier revision is left
        gitops_repo=options.gitops_repo, environment=options.environment, service=service, image=options.image,
        tag=options.tag, digest=options.digest, overlay=options.path, result=status,
        gitops_revision=after.revision if after and status == "pushed" else None,
    ).write_to(outputs)
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


@step_command("update-tag", OPTIONS, help="Set an image tag/digest in a Kustomize GitOps overlay, commit and push.")
def main(ctx: StepContext, flags: dict[str, Any]) -> UpdateTagResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> UpdateTagOptions:
    """The table's values (flag > env > pipekit.yaml > default), then the run record's image for what is left."""
    v = OPTIONS.resolve(ctx, flags)
    service = v["service"] or ctx.service
    build, ecr = BuildOutputs.read(ctx.record), EcrPushOutputs.read(ctx.record)
    recorded = (ecr.image_uri if ecr.succeeded else None) or (build.image if build.succeeded else None)
    if v.source("image").startswith("flag"):
        image = v["image"]
    else:  # gitops.image is a template: {service} filled in
        image = settings.image_name(v["image"], service, ctx.config.where("gitops", "image"), recorded)
    path = v["path"]
    if not path and v["environment"]:
        path = settings.overlay_for(v["environment"], service, v["overlay"], v["environments"])
    tag, digest = v["tag"], v["digest"]
    if tag is None and digest is None and not v["values_file"]:
        tags = (ecr.tags if ecr.succeeded else None) or (build.tags if build.succeeded else None) or []
        tag = str(tags[0]) if tags else None
        digest = ecr.digest if ecr.succeeded else None
    delivery = delivery_options(ctx, flags)
    return UpdateTagOptions(
        path=path or "", image=image or "", tag=tag, digest=digest, new_name=v["new_name"],
        create=v["create"], dry_run=v["dry_run"], values_file=v["values_file"], key=v["key"],
        environment=v["environment"], service=service, build_number=v["build_number"],
        source_commit=(build.source_commit if build.succeeded else None) or ctx.pipeline.commit,
        source_committed_at=(build.source_committed_at if build.succeeded else None) or ctx.pipeline.committed_at,
        build_url=ctx.pipeline.pipeline_url, force=v["force"], **settings.write_settings(v),
        delivery=delivery, rule=rule_for(v["environments"], v["environment"], delivery.via),
    )


if __name__ == "__main__":
    main()
