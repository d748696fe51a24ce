"""``pipekit ecr-push``: ensure the ECR repository, log in, push every tag, idempotently.

The story: read the local image and the tags (defaults from the run record's ``build``
section), find the repository (create it from ``ecr.create`` when allowed), ask ECR which of
the tags exist already (one ``BatchGetImage``), decide per tag (skip the same image, refuse an
immutable tag holding another image, overwrite a mutable one with a warning), log the
container tool in (token reused while valid), push, read the digest back and record it.

"The same image" is decided by the image config digest (the image ID): it is the same however
the layers were compressed on push, so a rebuild-free re-run always skips. The ECR API is the
one source of truth for what exists. With ``--registry-override`` the registry host may be
something the API does not see (a test registry, a mirror): after pushing there, the manifest
is read back from the host (``GET /v2/<name>/manifests/<tag>``) and registered with
``PutImage``; against ECR itself that ``PutImage`` is never needed (the API sees the push).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import resolve
from pipekit.core.outputs import BuildResult, EcrPushResult
from pipekit.core.step import StepContext, step_command
from pipekit.images import Tool
from pipekit.images.push import login_still_valid, push_tags, retag
from pipekit.images.settings import EcrPushOptions, split_tags

__all__ = ["EcrPushOptions", "EcrPushResult", "main", "options_from", "run", "validate"]

_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def validate(options: EcrPushOptions) -> None:
    if not _REPO_RE.match(options.repository) or not 2 <= len(options.repository) <= 256:
        raise BadInput(
            f"repository name {options.repository!r} is not a valid ECR repository name",
            hint="lowercase letters, digits, . _ - and / between components",
        )
    if not options.tags:
        raise BadInput(
            "no tags to push: pass --tags or run pipekit build first (run record section build has no tags)"
        )
    for tag in [*options.tags, *([options.retag_from] if options.retag_from else [])]:
        if not _TAG_RE.match(tag):
            raise BadInput(
                f"tag {tag!r} is not a valid image tag", hint="letters, digits, _ . -, at most 128"
            )
    if options.insecure_registry and not options.registry_override:
        raise BadInput(
            "--insecure-registry only applies with --registry-override: ECR registry hosts always use TLS"
        )
    if options.registry_override and not re.match(r"^[A-Za-z0-9.\-\[\]:]+$", options.registry_override):
        raise BadInput(f"--registry-override {options.registry_override!r} must be HOST or HOST:PORT")
    if options.registry_id and not re.match(r"^[0-9]{12}$", options.registry_id):
        raise BadInput(f"registry ID {options.registry_id!r} is not an AWS account ID (12 digits)")
    mutability = str(options.create.get("image_tag_mutability") or "")
    if mutability.endswith("_WITH_EXCLUSION") and not options.create.get(
        "image_tag_mutability_exclusion_filters"
    ):
        raise BadInput(
            f"ecr.create.image_tag_mutability {mutability} needs "
            "ecr.create.image_tag_mutability_exclusion_filters",
            hint='e.g. ["latest", "dev-*"]',
        )
    if not options.retag_from and not options.image:
        raise BadInput(
            "no local image: pass --image or run pipekit build first "
            "(run record section build has no image_ref)"
        )
    if options.sign and not options.signing_key:
        raise BadInput(
            "--sign needs a key: pass --signing-key REF or set PIPEKIT_SIGNING_KEY (or signing.key)",
            hint="a cosign key file (COSIGN_PASSWORD), env://VAR or awskms:///ARN",
        )


def run(options: EcrPushOptions, ctx: StepContext) -> EcrPushResult:
    """Look up (local image, repository, existing tags, token: concurrently), decide, push, record."""
    # The look-ups run in a thread pool (a speed trick that stays: docs/architecture.md).
    from concurrent.futures import Future, ThreadPoolExecutor

    from pipekit.clients import aws
    from pipekit.clients.ecr import EcrClient, RepositoryNotFound

    validate(options)
    policy_text = _lifecycle_policy(options.lifecycle_policy)
    signer = _signer(options, ctx) if options.sign else None  # an unusable key is exit 2 before any push
    previous_login = EcrPushResult.read(ctx.record).login  # state: a login still valid is reused
    with (
        ctx.record.recording(EcrPushResult.SECTION, keep=EcrPushResult.keep()) as outputs,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        tool: Any = None
        inspected: Future[dict[str, Any]] | None = None
        reusable: Future[bool] | None = None
        if not options.retag_from:
            from pipekit.clients.containers import get_tool

            tool = get_tool(options.container_tool)
            inspected = pool.submit(tool.inspect, options.image or "")  # while botocore loads
            reusable = pool.submit(login_still_valid, tool, previous_login)
        session = aws.session(region=options.region, env=ctx.env, retry=aws.RetryPolicy(**options.retry))
        ctx.console.debug(f"AWS credentials: {session.source}; region {session.region}")
        ecr = EcrClient(session, options.registry_id)
        lookup = [*([options.retag_from] if options.retag_from else []), *options.tags]
        repo_f = pool.submit(ecr.describe_repository, options.repository)
        images_f = pool.submit(ecr.images, options.repository, lookup)
        auth_f = pool.submit(ecr.authorization) if reusable is not None and not reusable.result() else None
        local_id = (
            inspected.result()["id"] if inspected is not None else None
        )  # ImageNotFound: exit 2 naming it
        repo = repo_f.result()
        if repo is None:
            if not options.create_repository:
                where = f" in registry {options.registry_id}" if options.registry_id else ""
                raise CheckFailed(
                    f"ECR repository {options.repository!r} does not exist{where} in {session.region}",
                    hint="create it, or allow pipekit to: --create-repository or ecr.create_repository: true",
                )
            repo = ecr.create_repository(
                options.repository, {**options.create, "lifecycle_policy_text": policy_text}
            )
            ctx.console.info(f"created ECR repository {repo.name} ({repo.mutability})")
        try:
            existing = images_f.result()
        except RepositoryNotFound:
            existing = ecr.images(repo.name, lookup) if not repo.created else {}
        host = options.registry_override or repo.host
        result = EcrPushResult(
            repository=repo.name,
            registry=host,
            image_uri=f"{host}/{repo.name}",
            digest=None,
            tags=list(options.tags),
            region=session.region,
            created_repository=repo.created,
            ecr_repository_uri=repo.uri,
        )
        result.write_to(outputs)
        if options.retag_from:
            retag(ecr, repo, existing, options, result, ctx)
        else:
            assert local_id is not None and reusable is not None
            result.login = push_tags(
                ecr,
                repo,
                tool,
                local_id,
                existing,
                options,
                result,
                ctx,
                previous_login if reusable.result() else None,
                auth_f,
                pool,
            )
        result.write_to(outputs)
        if options.wait_scan and result.digest:
            _wait_scan(ecr, result, options, ctx)
            result.write_to(outputs)
    _report(result, ctx)
    if signer is not None and result.digest:
        _sign(ecr, repo, result, options, signer, ctx)
    return result


def _signer(options: EcrPushOptions, ctx: StepContext) -> Any:
    from pipekit.signing.keys import load_signer

    return load_signer(options.signing_key or "", ctx.env, region=options.region)


def _sign(
    ecr: Any, repo: Any, result: EcrPushResult, options: EcrPushOptions, signer: Any, ctx: StepContext
) -> None:
    """Sign the digest where it was pushed; its identity is the ECR repository, whatever host was used."""
    from pipekit.clients.oci import Registry
    from pipekit.images.push import is_loopback
    from pipekit.signing.pushed import sign_pushed

    plain = bool(options.registry_override) and (options.insecure_registry or is_loopback(result.registry))
    auth = None
    if not plain:
        token = ecr.authorization()
        auth = (token.username, token.password)
    registry = Registry(result.registry, auth, plain_http=plain, insecure=plain)
    result.signature = sign_pushed(ctx, registry, repo.name, result.digest or "", repo.uri, signer).to_dict()


# -- scan ----------------------------------------------------------------------------
def _wait_scan(ecr: Any, result: EcrPushResult, options: EcrPushOptions, ctx: StepContext) -> None:
    """Wait for scan-on-push findings; write them as SARIF for ``pipekit scan``."""
    import json

    from pipekit.clients.ecr_scan import findings_to_sarif, summary, wait_for_findings

    digest = result.digest or ""
    ctx.console.info(f"waiting for the image scan of {result.image_uri}@{digest}")
    findings = wait_for_findings(
        ecr,
        result.repository,
        digest,
        image=result.image_uri,
        timeout_s=options.scan_timeout_s,
        poll_s=options.scan_poll_s,
    )
    result.scan = summary(findings)
    counts = result.scan["counts"]
    ctx.console.info(
        f"image scan {result.scan['status']}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no findings")
    )
    if options.scan_report:
        options.scan_report.parent.mkdir(parents=True, exist_ok=True)
        sarif = findings_to_sarif(findings, f"{result.image_uri}@{digest}")
        options.scan_report.write_text(json.dumps(sarif, indent=2) + "\n", encoding="utf-8")
        result.scan_report = str(options.scan_report)


def _lifecycle_policy(path: Path | None) -> str | None:
    if path is None:
        return None
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the lifecycle policy: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}:{exc.colno}: lifecycle policy is not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise BadInput(f'{path}: a lifecycle policy needs a non-empty "rules" list')
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _report(result: EcrPushResult, ctx: StepContext) -> None:
    rows = []
    for tag in result.tags:
        state = (
            "skipped (already there)"
            if tag in result.skipped
            else "overwritten"
            if tag in result.overwritten
            else "pushed"
        )
        rows.append([tag, state, result.digests.get(tag, "")])
    ctx.console.table(["tag", "result", "digest"], rows, title=f"{result.image_uri}")
    if result.skipped and not result.pushed:
        ctx.console.success(f"every tag already in {result.image_uri}: nothing to push")
    else:
        ctx.console.success(f"pushed {', '.join(result.pushed)} to {result.image_uri} ({result.digest})")


# -- the CLI -------------------------------------------------------------------------
def _strip_registry(image: str) -> str:
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return image


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> EcrPushOptions:
    """The declared values, then the build step's image and tags (when it succeeded) for what is left."""
    resolved = resolve(EcrPushOptions, ctx, flags)
    o = resolved.options
    build = BuildResult.read(ctx.record)
    if not build.succeeded:
        build = BuildResult()
    image = o.image
    if not image and build.image_ref:
        image = build.image_ref
    if not image and build.image and build.tags:
        image = f"{build.image}:{build.tags[0]}"
    tags = list(dict.fromkeys(o.tags or split_tags(build.tags)))  # once each, in order
    name_default = _strip_registry(str(build.image or (image or "").rsplit(":", 1)[0] or ""))
    repository = o.repository or name_default or ctx.service
    if not repository:
        raise BadInput(
            "no repository: pass --repository, set ecr.repository in pipekit.yaml or run pipekit build first"
        )
    create = dict(o.create)
    lifecycle = create.pop("lifecycle_policy", None)
    if lifecycle and ctx.config.path is not None:
        lifecycle = str(ctx.config.path.parent / lifecycle)
    tool = (
        o.container_tool
        if resolved.given("container_tool")
        else cast(Tool, build.container_tool or o.container_tool)
    )
    return replace(
        o,
        repository=str(repository),
        tags=tags,
        image=image,
        create=create,
        lifecycle_policy=Path(lifecycle) if lifecycle else None,
        container_tool=tool,
        wait_scan=o.wait_scan if o.wait_scan is not None else bool(o.scan_report),
    )


@step_command(
    "ecr-push", EcrPushOptions, help="Ensure the ECR repository, log in and push every tag (idempotent)."
)
def main(ctx: StepContext, flags: dict[str, Any]) -> EcrPushResult:
    with _short_lived_gc():
        return run(options_from(ctx, flags), ctx)


@contextmanager
def _short_lived_gc() -> Iterator[None]:
    """GC settings for the CLI process, which loads botocore, runs one push and exits.

    Hardly any cyclic collection passes while botocore's many objects are created (a high first
    threshold rather than no collector, so a long ``--wait-scan`` still collects), and no full
    collection over them afterwards: ``gc.freeze`` moves everything alive to the permanent
    generation before the thresholds come back, so neither the next pass nor Python's collection
    at exit walks the loaded service model (the figures: docs/architecture.md). Only :func:`main`
    (the CLI entry) does this; :func:`run`, the library API, leaves the caller's collector alone.
    """
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*thresholds)


if __name__ == "__main__":
    main()
