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

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from pipekit.core.config import pick
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.step import StepContext, step_command

SECTION = "ecr_push"
LOGIN_MARGIN_S = 30 * 60  # log in again when the token has less than this left
_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass
class EcrPushOptions:
    repository: str
    tags: list[str]
    image: str | None = None  # local image reference; not needed with retag_from
    region: str | None = None
    registry_id: str | None = None
    create_repository: bool = False
    create: dict[str, Any] = field(default_factory=dict)  # the ecr.create settings
    lifecycle_policy: Path | None = None
    retag_from: str | None = None
    registry_override: str | None = None
    insecure_registry: bool = False
    container_tool: str = "docker"
    wait_scan: bool = False
    scan_report: Path | None = None
    scan_timeout_s: float = 600.0
    scan_poll_s: float = 5.0
    retry: dict[str, Any] = field(default_factory=dict)


@dataclass
class EcrPushResult:
    repository: str
    registry: str
    image_uri: str
    digest: str | None
    tags: list[str]
    skipped: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    region: str = ""
    created_repository: bool = False
    scan: dict[str, Any] | None = None
    scan_report: str | None = None


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def validate(options: EcrPushOptions) -> None:
    if not _REPO_RE.match(options.repository) or not 2 <= len(options.repository) <= 256:
        raise BadInput(f"repository name {options.repository!r} is not a valid ECR repository name",
                       hint="lowercase letters, digits, . _ - and / between components")
    if not options.tags:
        raise BadInput("no tags to push: pass --tags or run pipekit build first (run record section build has no tags)")
    for tag in [*options.tags, *([options.retag_from] if options.retag_from else [])]:
        if not _TAG_RE.match(tag):
            raise BadInput(f"tag {tag!r} is not a valid image tag", hint="letters, digits, _ . -, at most 128")
    if options.insecure_registry and not options.registry_override:
        raise BadInput("--insecure-registry only applies with --registry-override: ECR registry hosts always use TLS")
    if options.registry_override and not re.match(r"^[A-Za-z0-9.\-\[\]:]+$", options.registry_override):
        raise BadInput(f"--registry-override {options.registry_override!r} must be HOST or HOST:PORT")
    if not options.retag_from and not options.image:
        raise BadInput("no local image: pass --image or run pipekit build first (run record section build has no image_ref)")


def run(options: EcrPushOptions, ctx: StepContext) -> EcrPushResult:
    """Look up (local image, repository, existing tags, token: concurrently), decide, push, record."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from pipekit.clients import aws
    from pipekit.clients.ecr import EcrClient, RepositoryNotFound

    validate(options)
    policy_text = _lifecycle_policy(options.lifecycle_policy)
    previous_login = ctx.record.output(SECTION, "login")
    with ctx.record.recording(SECTION) as outputs, ThreadPoolExecutor(max_workers=4) as pool:
        tool: Any = None
        inspected: Future[dict[str, Any]] | None = None
        reusable: Future[bool] | None = None
        if not options.retag_from:
            from pipekit.clients.containers import get_tool

            tool = get_tool(options.container_tool)
            inspected = pool.submit(tool.inspect, options.image or "")  # while botocore loads
            reusable = pool.submit(_login_still_valid, tool, previous_login)
        session = aws.session(region=options.region, env=ctx.env, retry=aws.RetryPolicy(**options.retry))
        ctx.console.debug(f"AWS credentials: {session.source}; region {session.region}")
        ecr = EcrClient(session, options.registry_id)
        lookup = [*([options.retag_from] if options.retag_from else []), *options.tags]
        repo_f = pool.submit(ecr.describe_repository, options.repository)
        images_f = pool.submit(ecr.images, options.repository, lookup)
        auth_f = pool.submit(ecr.authorization) if reusable is not None and not reusable.result() else None
        local_id = inspected.result()["id"] if inspected is not None else None  # ImageNotFound: exit 2 naming it
        repo = repo_f.result()
        if repo is None:
            if not options.create_repository:
                where = f" in registry {options.registry_id}" if options.registry_id else ""
                raise CheckFailed(f"ECR repository {options.repository!r} does not exist{where} in {session.region}",
                                  hint="create it, or allow pipekit to: --create-repository or ecr.create_repository: true")
            repo = ecr.create_repository(options.repository, {**options.create, "lifecycle_policy_text": policy_text})
            ctx.console.info(f"created ECR repository {repo.name} ({repo.mutability})")
        try:
            existing = images_f.result()
        except RepositoryNotFound:
            existing = ecr.images(repo.name, lookup) if not repo.created else {}
        host = options.registry_override or repo.host
        result = EcrPushResult(repository=repo.name, registry=host, image_uri=f"{host}/{repo.name}", digest=None,
                               tags=list(options.tags), region=session.region, created_repository=repo.created)
        outputs.update(repository=repo.name, registry=host, image_uri=result.image_uri, tags=result.tags,
                       ecr_repository_uri=repo.uri, region=session.region)
        if options.retag_from:
            _retag(ecr, repo, existing, options, result, ctx)
        else:
            assert local_id is not None and reusable is not None
            login = _push_tags(ecr, repo, tool, local_id, existing, options, result, ctx,
                               previous_login if reusable.result() else None, auth_f, pool)
            if login:
                outputs["login"] = login
        outputs.update(digest=result.digest, digests=result.digests, skipped=result.skipped, pushed=result.pushed,
                       overwritten=result.overwritten)
        if options.wait_scan and result.digest:
            _wait_scan(ecr, result, options, ctx)
            outputs.update(scan=result.scan, scan_report=result.scan_report)
    _report(result, ctx)
    return result


def _push_tags(ecr: Any, repo: Any, tool: Any, local_id: str, existing: dict[str, Any], options: EcrPushOptions,
               result: EcrPushResult, ctx: StepContext, reusable_login: Any, auth_f: Any, pool: Any) -> dict[str, Any] | None:
    """Decide per tag, push what is missing, confirm through the API; the login record when logged in."""
    to_push: list[str] = []
    conflicts: list[str] = []
    for tag in options.tags:
        remote = existing.get(tag)
        if remote is None:
            to_push.append(tag)
        elif remote.config_digest == local_id:
            result.skipped.append(tag)
            result.digests[tag] = remote.digest
        elif repo.is_immutable(tag):
            conflicts.append(f"{tag} (holds {remote.digest})")
        else:
            result.overwritten.append(tag)
            to_push.append(tag)
    if conflicts:
        raise CheckFailed(
            f"immutable repository {repo.name} already has tag {', '.join(conflicts)} with another image than "
            f"{options.image} ({local_id}); nothing was pushed",
            hint="push under a new tag (the commit SHA or a new version); delete the old image in ECR only if it "
                 "must really be replaced")
    for tag in result.skipped:
        ctx.console.info(f"{result.image_uri}:{tag} already holds this image ({result.digests[tag]}): skipped")
    for tag in result.overwritten:
        ctx.console.warn(f"{result.image_uri}:{tag} held another image ({existing[tag].digest}): overwriting it "
                         f"(mutable repository)")
    if not to_push:
        result.digest = result.digests.get(options.tags[0])
        return None
    plain = bool(options.registry_override) and (options.insecure_registry or is_loopback(result.registry))
    login, auth = _login(ecr, tool, result.registry, not plain, ctx, reusable_login, auth_f)
    if options.registry_override:
        import importlib

        pool.submit(importlib.import_module, "pipekit.core.http")  # for the read-back, while the push runs
    for tag in to_push:
        dest = f"{result.image_uri}:{tag}"
        ctx.console.info(f"pushing {options.image} -> {dest}")
        pushed = tool.push(options.image or "", dest, tls_verify=not plain)
        if pushed:
            result.digests[tag] = pushed
        result.pushed.append(tag)
    _confirm(ecr, repo, local_id, to_push, options, result, ctx, auth, plain)
    result.digest = result.digests.get(options.tags[0]) or result.digests.get(to_push[0])
    return login


def _confirm(ecr: Any, repo: Any, local_id: str, tags: list[str], options: EcrPushOptions, result: EcrPushResult,
             ctx: StepContext, auth: Any, plain: bool) -> None:
    """Read each pushed tag back: from ECR itself, or (override) from the host, registering it with PutImage."""
    from pipekit.clients.ecr import RegistryUnauthorized, RemoteImage, TagConflict, read_manifest

    if not options.registry_override:
        seen = ecr.images(repo.name, tags)
        for tag in tags:
            remote = seen.get(tag)
            if remote is None or remote.config_digest != local_id:
                raise CheckFailed(f"pushed {result.image_uri}:{tag}, but ECR does not show it with image {local_id}",
                                  hint="another push may have replaced it meanwhile; rerun the step")
            _note_digest(result, tag, remote.digest, ctx)
        return
    for tag in tags:
        creds = (auth.username, auth.password) if auth else None
        try:
            manifest, media, digest = read_manifest(result.registry, repo.name, tag, auth=creds, plain_http=plain,
                                                    insecure=plain)
        except RegistryUnauthorized:
            auth = ecr.authorization()
            manifest, media, digest = read_manifest(result.registry, repo.name, tag,
                                                    auth=(auth.username, auth.password), plain_http=plain,
                                                    insecure=plain)
        if RemoteImage(tag, digest, manifest, media).config_digest != local_id:
            raise CheckFailed(f"pushed {result.image_uri}:{tag}, but the registry now holds another image there",
                              hint="another push replaced it meanwhile; rerun the step")
        try:
            registered = ecr.put_image(repo.name, tag, manifest, media, digest)
        except TagConflict as exc:
            raise CheckFailed(f"ECR refused tag {tag} in {repo.name}: {exc}",
                              hint="another pipeline pushed this immutable tag meanwhile; push a new tag") from None
        _note_digest(result, tag, registered, ctx)


def _note_digest(result: EcrPushResult, tag: str, digest: str, ctx: StepContext) -> None:
    told = result.digests.get(tag)
    if told and told != digest and tag in result.pushed:
        ctx.console.warn(f"{tag}: the container tool reported {told}, the registry holds {digest}; recording the registry's")
    result.digests[tag] = digest


def _login(ecr: Any, tool: Any, host: str, tls_verify: bool, ctx: StepContext, reusable: Any,
           auth_f: Any) -> tuple[dict[str, Any], Any]:
    """Log the tool in with a fresh token, or reuse the tool's login while the token is valid.

    The password goes to the tool on stdin and nowhere else; the run record keeps only the
    registry, the tool and the expiry, so the next run on this machine knows it may reuse it.
    """
    if isinstance(reusable, dict) and reusable.get("registry") == host:
        ctx.console.info(f"reusing the {tool.name} login to {host} (token valid until {reusable['expires_at']})")
        return reusable, None
    auth = auth_f.result() if auth_f is not None else ecr.authorization()
    tool.login(host, auth.username, auth.password, tls_verify=tls_verify)
    ctx.console.info(f"{tool.name} logged in to {host}")
    expires_at = auth.expires_at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"registry": host, "tool": tool.name, "expires_at": expires_at}, auth


def _login_still_valid(tool: Any, previous: Any) -> bool:
    """The run record's last login is for this tool, has time left, and the tool still holds it."""
    if not isinstance(previous, dict) or previous.get("tool") != tool.name or not previous.get("registry"):
        return False
    try:
        expires = datetime.fromisoformat(str(previous.get("expires_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    if (expires - now_utc()).total_seconds() <= LOGIN_MARGIN_S:
        return False
    return _tool_logged_in(tool, str(previous["registry"]))


def _tool_logged_in(tool: Any, host: str) -> bool:
    """Whether the tool still holds a login for ``host`` (its auth file is the token cache)."""
    import json
    import os
    import subprocess

    env = tool.env if tool.env is not None else os.environ
    if tool.name == "docker":
        config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return host in (data.get("auths") or {}) or host in (data.get("credHelpers") or {})
    try:
        proc = subprocess.run([tool.resolve(), "login", "--get-login", host], capture_output=True, text=True,
                              env=tool.env, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


# -- retag ---------------------------------------------------------------------------
def _retag(ecr: Any, repo: Any, found: dict[str, Any], options: EcrPushOptions, result: EcrPushResult,
           ctx: StepContext) -> None:
    """BatchGetImage the manifest of ``retag_from``, PutImage it under each new tag; no layers move."""
    source_tag = options.retag_from or ""
    source = found.get(source_tag)
    if source is None:
        raise CheckFailed(f"tag {source_tag!r} not found in ECR repository {repo.name}",
                          hint="--retag-from needs a tag that was pushed already")
    to_put: list[str] = []
    conflicts: list[str] = []
    for tag in options.tags:
        remote = found.get(tag)
        if remote is not None and remote.digest == source.digest:
            result.skipped.append(tag)
        elif remote is not None and repo.is_immutable(tag):
            conflicts.append(f"{tag} (holds {remote.digest})")
        else:
            if remote is not None:
                result.overwritten.append(tag)
            to_put.append(tag)
        result.digests[tag] = source.digest
    if conflicts:
        raise CheckFailed(f"immutable repository {repo.name} already has tag {', '.join(conflicts)} with another "
                          f"image than {source_tag} ({source.digest}); nothing was retagged",
                          hint="choose a new tag; an immutable tag cannot be moved")
    for tag in result.overwritten:
        ctx.console.warn(f"{result.image_uri}:{tag} held {found[tag].digest}: moving it to {source.digest}")
    from pipekit.clients.ecr import TagConflict

    plain = bool(options.registry_override) and (options.insecure_registry or is_loopback(result.registry))
    for tag in to_put:
        if options.registry_override:  # the host is not what the API sees: tag it there too, first
            _mirror_tag(ecr, result.registry, repo.name, tag, source, plain)
        try:
            result.digests[tag] = ecr.put_image(repo.name, tag, source.manifest, source.media_type, source.digest)
        except TagConflict as exc:
            raise CheckFailed(f"ECR refused tag {tag} in {repo.name}: {exc}", hint="choose a new tag") from None
        result.pushed.append(tag)
    result.digest = source.digest


def _mirror_tag(ecr: Any, host: str, repository: str, tag: str, source: Any, plain: bool) -> None:
    from pipekit.clients.ecr import RegistryUnauthorized, write_manifest

    media = source.media_type or "application/vnd.oci.image.manifest.v1+json"
    try:
        write_manifest(host, repository, tag, source.manifest, media, auth=None, plain_http=plain, insecure=plain)
    except RegistryUnauthorized:
        auth = ecr.authorization()
        write_manifest(host, repository, tag, source.manifest, media, auth=(auth.username, auth.password),
                       plain_http=plain, insecure=plain)


# -- scan ----------------------------------------------------------------------------
def _wait_scan(ecr: Any, result: EcrPushResult, options: EcrPushOptions, ctx: StepContext) -> None:
    """Wait for scan-on-push findings; write them as SARIF for ``pipekit scan``."""
    import json
    import time

    from pipekit.clients.ecr import findings_to_sarif
    from pipekit.core.errors import ExternalError, TimedOut

    digest = result.digest or ""
    deadline = time.monotonic() + options.scan_timeout_s
    ctx.console.info(f"waiting for the image scan of {result.image_uri}@{digest}")
    while True:
        findings = ecr.scan_findings(result.repository, digest)
        if findings is not None:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimedOut(f"no scan result for {result.image_uri}@{digest} after {options.scan_timeout_s:g} s",
                           hint="is scan on push on (ecr.create.scan_on_push) or enhanced scanning set up?")
        time.sleep(min(options.scan_poll_s, left))
    status = str((findings.get("imageScanStatus") or {}).get("status"))
    if status not in ("COMPLETE", "ACTIVE"):
        desc = (findings.get("imageScanStatus") or {}).get("description") or ""
        raise ExternalError(f"image scan of {result.image_uri}@{digest} ended {status}: {desc}")
    body = findings.get("imageScanFindings") or {}
    counts = {str(k).lower(): int(v) for k, v in (body.get("findingSeverityCounts") or {}).items()}
    result.scan = {"status": status, "counts": counts,
                   "findings": len(body.get("findings") or []) + len(body.get("enhancedFindings") or [])}
    ctx.console.info(f"image scan {status}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no findings"))
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
        raise BadInput(f"{path}:{exc.lineno}:{exc.colno}: lifecycle policy is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise BadInput(f"{path}: a lifecycle policy needs a non-empty \"rules\" list")
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _report(result: EcrPushResult, ctx: StepContext) -> None:
    rows = []
    for tag in result.tags:
        state = ("skipped (already there)" if tag in result.skipped
                 else "overwritten" if tag in result.overwritten else "pushed")
        rows.append([tag, state, result.digests.get(tag, "")])
    ctx.console.table(["tag", "result", "digest"], rows, title=f"{result.image_uri}")
    if result.skipped and not result.pushed:
        ctx.console.success(f"every tag already in {result.image_uri}: nothing to push")
    else:
        ctx.console.success(f"pushed {', '.join(result.pushed)} to {result.image_uri} ({result.digest})")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# -- the CLI -------------------------------------------------------------------------
def _strip_registry(image: str) -> str:
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return image


def _split_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in re.split(r"[\s,]+", value) if t]
    return [str(t) for t in value if str(t)]


def options_from(ctx: StepContext, **flags: Any) -> EcrPushOptions:
    cfg = ctx.config.section("ecr")
    env = ctx.env
    build = ctx.record.step("build").get("outputs") or {}
    image = pick(flags.get("image"), "PIPEKIT_ECR_IMAGE", None, None, env)
    if not image and build.get("image_ref"):
        image = build["image_ref"]
    if not image and build.get("image") and build.get("tags"):
        image = f"{build['image']}:{build['tags'][0]}"
    tags = _split_tags(pick(flags.get("tags"), "PIPEKIT_ECR_TAGS", None, None, env)) or _split_tags(build.get("tags"))
    name_default = _strip_registry(str(build.get("image") or (image or "").rsplit(":", 1)[0] or ""))
    repository = pick(flags.get("repository"), "PIPEKIT_ECR_REPOSITORY", cfg.get("repository"),
                      name_default or ctx.service, env)
    if not repository:
        raise BadInput("no repository: pass --repository, set ecr.repository in pipekit.yaml or run pipekit build first")
    scan_cfg = cfg.get("scan") or {}
    create = dict(cfg.get("create") or {})
    lifecycle = create.pop("lifecycle_policy", None)
    if lifecycle and ctx.config.path is not None:
        lifecycle = str(ctx.config.path.parent / lifecycle)
    report = pick(flags.get("scan_report"), "PIPEKIT_ECR_SCAN_REPORT", scan_cfg.get("report"), None, env)
    return EcrPushOptions(
        repository=str(repository),
        tags=tags,
        image=image,
        region=pick(flags.get("region"), None, cfg.get("region"), None, env),
        registry_id=pick(flags.get("registry_id"), "PIPEKIT_ECR_REGISTRY_ID", cfg.get("registry_id"), None, env),
        create_repository=_truthy(pick(flags.get("create_repository") or None, "PIPEKIT_ECR_CREATE_REPOSITORY",
                                       cfg.get("create_repository"), False, env)),
        create=create,
        lifecycle_policy=Path(lifecycle) if lifecycle else None,
        retag_from=flags.get("retag_from"),
        registry_override=pick(flags.get("registry_override"), "PIPEKIT_ECR_REGISTRY_OVERRIDE",
                               cfg.get("registry_override"), None, env),
        insecure_registry=_truthy(pick(flags.get("insecure_registry") or None, "PIPEKIT_ECR_INSECURE_REGISTRY",
                                       cfg.get("insecure_registry"), False, env)),
        container_tool=str(pick(flags.get("container_tool"), "PIPEKIT_CONTAINER_TOOL", cfg.get("container_tool"),
                                build.get("container_tool") or "docker", env)),
        wait_scan=_truthy(pick(flags.get("wait_scan") or None, "PIPEKIT_ECR_WAIT_SCAN", scan_cfg.get("wait"),
                               bool(report), env)),
        scan_report=Path(report) if report else None,
        scan_timeout_s=float(scan_cfg.get("timeout_s", 600)),
        scan_poll_s=float(scan_cfg.get("poll_s", 5)),
        retry=dict(cfg.get("retry") or {}),
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@step_command("ecr-push", help="Ensure the ECR repository, log in and push every tag (idempotent).")
@click.option("--repository", help="ECR repository name [env PIPEKIT_ECR_REPOSITORY; ecr.repository; default: build image name].")
@click.option("--tags", help='Tags to push, e.g. "1.4.2 abc1234" [env PIPEKIT_ECR_TAGS; default: build tags].')
@click.option("--image", help="Local image reference [env PIPEKIT_ECR_IMAGE; default: build image_ref].")
@click.option("--region", help="AWS region [env AWS_REGION / AWS_DEFAULT_REGION; ecr.region].")
@click.option("--registry-id", help="AWS account ID of the registry [ecr.registry_id; default: the caller's].")
@click.option("--create-repository", is_flag=True, default=None, help="Create the repository from ecr.create when missing.")
@click.option("--retag-from", metavar="TAG", help="Add the tags to the image already tagged TAG in ECR (no push).")
@click.option("--registry-override", metavar="HOST:PORT",
              help="Push to this registry host instead of ECR's (tests and private mirrors; plain HTTP only on loopback).")
@click.option("--insecure-registry", is_flag=True, default=None,
              help="Allow plain HTTP / unverified TLS to a non-loopback --registry-override.")
@click.option("--container-tool", type=click.Choice(["docker", "buildah", "podman"]),
              help="Tool that pushes [env PIPEKIT_CONTAINER_TOOL; default: the one build used, else docker].")
@click.option("--wait-scan", is_flag=True, default=None, help="Wait for the scan-on-push results.")
@click.option("--scan-report", type=click.Path(dir_okay=False), help="Write scan findings as SARIF (implies --wait-scan).")
def main(ctx: StepContext, **flags: Any) -> EcrPushResult:
    return run(options_from(ctx, **flags), ctx)


if __name__ == "__main__":
    main()
