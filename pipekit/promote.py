"""``pipekit promote``: copy image references from one environment's overlays to the next.

Decide (chain and promotion rule: auto, gated, manual), clone the GitOps repo sparse, read
each service's image entry (tag, digest) from the source overlay, write it to the target
overlay, evaluate the gates, commit the whole batch once with ``Pipekit-Promoted-From``
trailers, push with fetch-re-apply-retry, record the GitOps revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.clients.git import Git
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, resolve
from pipekit.core.outputs import PromoteResult
from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext, step_command
from pipekit.gitops import kustomization, settings, trailers
from pipekit.gitops import overlay as ov
from pipekit.gitops.edits import BatchEdit, ImageEdit
from pipekit.gitops.refs import ImageRef
from pipekit.gitops.writer import Change
from pipekit.promotion import gates, rules
from pipekit.promotion.delivery import DeliveryOptions
from pipekit.promotion.pull_request_settings import PullRequestRule, rule_for
from pipekit.releases.settings import SourceOptions

if TYPE_CHECKING:
    from pipekit.releases.promotion import PromotionNotes

__all__ = ["PromoteOptions", "PromoteResult", "main", "options_from", "run"]


@dataclass(kw_only=True)
class PromoteOptions(DeliveryOptions, settings.WriteOptions, SourceOptions):
    source: str = option(
        flag="--from", required="name the source environment", help="Source environment, e.g. dev."
    )
    target: str = option(
        flag="--to", required="name the target environment", help="Target environment, e.g. qa."
    )
    services: list[str] = option(
        default_factory=list, flag="--service", help="Service to promote (repeatable)."
    )
    all_services: bool = option(False, flag="--all", help="Every service with a source overlay.")
    approve: bool = option(False, flag="--approve", help="Approve a promotion into a 'manual' environment.")
    dry_run: bool = option(
        False, flag="--dry-run", help="Print the diff that would be committed; push nothing."
    )
    release_notes: bool = option(
        True,
        flag="--release-notes",
        config="releases.notes",
        help="Put the release notes (commit subjects, Jira keys) into the GitOps commit and "
        "on the card [the checkout promote runs in, or --source-repo].",
    )


class Promotion:
    """The batch edit: re-read sources and re-apply on every (fresh) tree."""

    def __init__(self, ctx: StepContext, options: PromoteOptions, decision: rules.Decision) -> None:
        self.ctx, self.options, self.decision = ctx, options, decision
        self.services: list[str] = list(dict.fromkeys(options.services))
        self.images: dict[str, str] = {}
        self.batch: BatchEdit | None = None
        self.gated = False
        self.owner: dict[int, str] = {}  # id(edit) -> service
        self.origins: dict[tuple[str, str], trailers.Group | None] = {}  # (service, reference) -> its deploy
        self.notes = release_notes(ctx, options) if options.release_notes else None
        self.git: Git | None = None

    def overlay(self, env: str, service: str) -> str:
        return settings.overlay_for(env, service, self.options.overlay, self.options.environments)

    def sparse(self, git: Git) -> list[str]:
        o = self.options
        if o.all_services:
            template = settings.overlay_template(o.source, o.overlay, o.environments)
            if "{service}" not in template:
                raise BadInput(f"--all needs a {{service}} in the overlay path template (got {template!r})")
            self.services = ov.services_in(template, o.source, git.files())
            if not self.services:
                raise CheckFailed(f"--all: no service has a {o.source} overlay ({template})")
        dirs: list[str] = []
        for service in self.services:
            for env in (o.source, o.target):
                path = self.overlay(env, service)
                want = service if path.startswith(f"{service}/") else path
                if want not in dirs:
                    dirs.append(want)
        return dirs

    def __call__(self, root: Path, git: Git) -> Change:
        self.git = git
        edits = []
        for service in self.services:
            ref = self.read_source(root, service)
            self.images[service] = ref.reference
            if (service, ref.reference) not in self.origins:
                self.origins[(service, ref.reference)] = origin(git, service, ref)
            edit = ImageEdit(overlay=self.overlay(self.options.target, service), want=ref)
            self.owner[id(edit)] = service
            edits.append(edit)
        if self.decision.rule == "gated" and not self.gated:
            gates.check(
                self.decision.gates,
                gates.GateRequest(self.options.source, self.options.target, dict(self.images)),
                self.ctx,
            )
            self.gated = True
        self.batch = BatchEdit(edits, self.message)
        return self.batch(root, git)

    def read_source(self, root: Path, service: str) -> ImageRef:
        directory = self.overlay(self.options.source, service)
        found = ov.kustomization_file(root / directory)
        if found is None:
            raise CheckFailed(
                f"{directory}: no kustomization.yaml: {service} has no {self.options.source} overlay"
            )
        rel = f"{directory}/{found.name}"
        text = found.read_text(encoding="utf-8")
        name = self.options.image
        if name:
            name = str(name).replace("{service}", service)
            ref = kustomization.find(text, rel, name)
        else:  # no gitops.image: the entry named after the service (``.../<service>``)
            name = service
            ref = next(
                (
                    r
                    for r in kustomization.entries(text, rel)
                    if r.name == service or r.name.endswith(f"/{service}")
                ),
                None,
            )
        if ref is None or not (ref.new_tag or ref.digest):
            raise CheckFailed(
                f"{rel}: no images entry {name!r} with a newTag or digest to promote",
                hint="check gitops.image in pipekit.yaml",
            )
        return ref

    def message(self, applied: Sequence[ImageEdit]) -> str:
        o = self.options
        names = [self.service_of(e) for e in applied]
        subject = f"promote {o.source} -> {o.target}: " + ", ".join(
            f"{n} {e.want.version}" for n, e in zip(names, applied, strict=True)
        )
        if len(subject) > 72:
            subject = f"promote {o.source} -> {o.target}: {len(applied)} services"
        body = [
            f"{n}: {e.old.version if e.old else '(none)'} -> {e.want.reference}"
            for n, e in zip(names, applied, strict=True)
        ]
        groups = []
        for n, e in zip(names, applied, strict=True):
            source = self.origins.get((n, e.want.reference)) or trailers.Group(n)
            groups.append(
                trailers.Group(
                    service=n,
                    image=e.want.new_name or e.want.name,
                    image_name=e.want.name,
                    tag=e.want.new_tag,
                    digest=e.want.digest,
                    source_commit=source.source_commit,
                    source_committed_at=source.source_committed_at,
                    build_number=e.want.build,
                )
            )
        if self.notes is not None:
            body += self.notes.lines(
                [(n, e.old, e.want) for n, e in zip(names, applied, strict=True)],
                self.source_commit,
                self.git,
            )
        return trailers.commit_message(
            subject,
            body,
            trailers.Trailers(
                environment=o.target,
                promoted_from=o.source,
                build_url=self.ctx.pipeline.pipeline_url,
                groups=groups,
            ),
        )

    def source_commit(self, service: str, ref: ImageRef) -> str | None:
        key = (service, ref.reference)
        if key not in self.origins and self.git is not None:
            self.origins[key] = origin(self.git, service, ref)
        found = self.origins.get(key)
        return found.source_commit if found is not None else None

    def service_of(self, edit: ImageEdit) -> str:
        return self.owner.get(id(edit), edit.want.name.rsplit("/", 1)[-1])


def origin(git: Git, service: str, ref: ImageRef) -> trailers.Group | None:
    """The group of the commit that wrote ``ref`` for ``service`` (an update-tag or an earlier
    promotion): its source commit and time, so that lead time for every environment needs only
    this repository."""
    match = ("Pipekit-Digest", ref.digest) if ref.digest else ("Pipekit-Tag", ref.new_tag or "")
    found = git.find_message([f"Pipekit-Service: {service}", f"{match[0]}: {match[1]}"])
    for group in trailers.parse(found or "").groups:
        if group.service == service and (group.digest if ref.digest else group.tag) == match[1]:
            return group
    return None


def release_notes(ctx: StepContext, options: PromoteOptions) -> PromotionNotes:
    from pipekit.releases.promotion import for_promote

    return for_promote(options, ctx.env, ctx.service)


def run(options: PromoteOptions, ctx: StepContext) -> PromoteResult:
    if not options.gitops_repo:
        raise BadInput("no GitOps repository: pass --gitops-repo or set gitops.repo in pipekit.yaml")
    if bool(options.services) == options.all_services:
        raise BadInput("name the services to promote: --service NAME (repeatable) or --all")
    with ctx.record.recording(PromoteResult.SECTION) as outputs:
        result = PromoteResult(source=options.source, target=options.target)
        result.write_to(outputs)
        envs = rules.load(options.environments)
        decision = rules.decide(
            envs,
            options.source,
            options.target,
            approve=options.approve,
            in_bitbucket=ctx.pipeline.in_bitbucket,
            deployment_env=ctx.pipeline.deployment_environment,
        )
        rule = rule_for(options.environments, options.target, options.via)
        if rule.by_pull_request:
            return by_pull_request(ctx, options, decision, rule, result, outputs)
        promotion = Promotion(ctx, options, decision)
        writer = options.writer(ctx)
        outcome = writer.write(promotion.sparse, promotion, dry_run=options.dry_run)
        batch = promotion.batch
        done = batch.applied if batch else []
        applied = [promotion.service_of(e) for e in done]
        skipped = {promotion.service_of(e): e.note for e in (batch.edits if batch else []) if e not in done}
        result.status, result.rule, result.gitops_revision = outcome.status, decision.rule, outcome.revision
        result.services, result.skipped, result.images = applied, skipped, promotion.images
        result.retries, result.diff = outcome.retries, outcome.diff
        if promotion.notes is not None and outcome.status == "pushed":
            result.notes = promotion.notes.finish(
                ctx.record.path.parent,
                source=options.source,
                target=options.target,
                repo=options.gitops_repo,
                branch=options.branch,
                revision=outcome.revision,
            )
        result.write_to(outputs)
    report(ctx, result)
    return result


def by_pull_request(
    ctx: StepContext,
    o: PromoteOptions,
    decision: rules.Decision,
    rule: PullRequestRule,
    result: PromoteResult,
    outputs: dict[str, Any],
) -> PromoteResult:
    """One pull request per service, each holding the commit a direct promotion would push."""
    from pipekit.promotion.delivery import ChangeRequest, deliver

    if o.all_services or not o.services:
        raise BadInput("--via pull-request promotes named services: pass --service NAME (repeatable)")
    result.status, result.rule, result.services, result.skipped, result.images = (
        "unchanged",
        decision.rule,
        [],
        {},
        {},
    )
    records: list[dict[str, Any]] = []
    for service in dict.fromkeys(o.services):
        promotion = Promotion(ctx, replace(o, services=[service]), decision)

        def version(p: Promotion = promotion) -> str:
            return p.batch.applied[0].want.version if p.batch and p.batch.applied else "unknown"

        def title(s: str = service, v: Any = version) -> str:
            return f"Promote {s} {v()} to {o.target}"

        def keep(entry: dict[str, Any], at: int = len(records)) -> None:
            records[at : at + 1] = [entry]
            result.pull_requests = list(records)
            result.write_to(outputs)

        def recheck(commit: str, p: Promotion = promotion) -> None:
            """The environment's rule and gates again, against what was merged."""
            try:
                again = rules.decide(
                    rules.load(o.environments),
                    o.source,
                    o.target,
                    approve=o.approve,
                    in_bitbucket=ctx.pipeline.in_bitbucket,
                    deployment_env=ctx.pipeline.deployment_environment,
                )
                if again.rule == "gated":
                    gates.check(again.gates, gates.GateRequest(o.source, o.target, dict(p.images)), ctx)
            except CheckFailed as exc:
                raise CheckFailed(
                    f"merged as {short_revision(commit)}, but {exc.message}", hint=exc.hint
                ) from None

        done = deliver(
            ctx,
            o.writer(ctx),
            rule,
            options=o,
            dry_run=o.dry_run,
            record_to=keep,
            after_merge=recheck,
            change=ChangeRequest(service, o.target, promotion.sparse, promotion, version, title),
        )
        result.images.update(promotion.images)
        result.diff += done.outcome.diff
        if promotion.notes is not None and done.status in (
            "opened",
            "merged",
        ):  # the notes the branch's commit holds
            result.notes = promotion.notes.finish(
                ctx.record.path.parent,
                source=o.source,
                target=o.target,
                repo=o.gitops_repo,
                branch=done.record.get("branch") or o.branch,
                revision=done.outcome.revision,
            )
        if done.status == "unchanged":
            result.skipped[service] = done.outcome.change.note or f"already in {o.target}"
        else:
            result.services.append(service)
            result.status = done.status
        result.gitops_revision = done.merge_commit or result.gitops_revision
    result.pull_requests = records
    result.write_to(outputs)
    if result.status == "dry-run":
        report(ctx, result)  # the diff the pull request's branch would hold
    return result


def report(ctx: StepContext, result: PromoteResult) -> None:
    con = ctx.console
    what = f"{result.source} -> {result.target} ({result.rule})"
    if result.status == "dry-run":
        con.info(f"dry run: promotion {what} would commit:")
        con.print(result.diff.rstrip("\n"))
    elif result.status == "unchanged":
        con.success(f"promotion {what}: nothing to do; nothing committed")
    else:
        con.success(
            f"promoted {what}: {', '.join(result.services or [])} as {short_revision(result.gitops_revision)}"
        )
    for service, why in (result.skipped or {}).items():
        con.info(f"  {service}: {why}")
    if result.notes:
        con.info(
            f"release notes: {result.notes['commits']} commits"
            + (f", Jira {' '.join(result.notes['jira'])}" if result.notes["jira"] else "")
        )
        for service, info in result.notes["services"].items():
            if info["state"] in ("diverged", "to-ahead"):
                con.warn(f"{service}: {info['note']}")


@step_command(
    "promote", PromoteOptions, help="Promote image references from one environment's overlays to the next."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> PromoteResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> PromoteOptions:
    return resolve(PromoteOptions, ctx, flags).options


if __name__ == "__main__":
    main()
