"""The tag work of ``pipekit ecr-push``: decide per tag, log in, push, confirm; retag through the API.

Kept apart from :mod:`pipekit.ecr_push` (the run, the CLI) so each reads in one sitting: it reads
the step's options (:mod:`pipekit.images.settings`) and fills in its result
(:class:`pipekit.core.outputs.EcrPushResult`).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import CheckFailed

if TYPE_CHECKING:
    from pipekit.core.outputs import EcrPushResult
    from pipekit.core.step import StepContext
    from pipekit.images.settings import EcrPushOptions

LOGIN_MARGIN_S = 30 * 60  # log in again when the token has less than this left


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def push_tags(
    ecr: Any,
    repo: Any,
    tool: Any,
    local_id: str,
    existing: dict[str, Any],
    options: EcrPushOptions,
    result: EcrPushResult,
    ctx: StepContext,
    reusable_login: Any,
    auth_f: Any,
    pool: Any,
) -> dict[str, Any] | None:
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
            f"immutable repository {repo.name} already has tag {', '.join(conflicts)} with another image "
            f"than {options.image} ({local_id}); nothing was pushed",
            hint="push under a new tag (the commit SHA or a new version); delete the old image in ECR only "
            "if it must really be replaced",
        )
    for tag in result.skipped:
        ctx.console.info(
            f"{result.image_uri}:{tag} already holds this image ({result.digests[tag]}): skipped"
        )
    for tag in result.overwritten:
        ctx.console.warn(
            f"{result.image_uri}:{tag} held another image ({existing[tag].digest}): overwriting it "
            f"(mutable repository)"
        )
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


def _confirm(
    ecr: Any,
    repo: Any,
    local_id: str,
    tags: list[str],
    options: EcrPushOptions,
    result: EcrPushResult,
    ctx: StepContext,
    auth: Any,
    plain: bool,
) -> None:
    """Read each pushed tag back: from ECR itself, or (override) from the host,
    registering it with PutImage."""
    from pipekit.clients.ecr import RegistryUnauthorized, RemoteImage, TagConflict, read_manifest

    if not options.registry_override:
        seen = ecr.images(repo.name, tags)
        for tag in tags:
            remote = seen.get(tag)
            if remote is None or remote.config_digest != local_id:
                raise CheckFailed(
                    f"pushed {result.image_uri}:{tag}, but ECR does not show it with image {local_id}",
                    hint="another push may have replaced it meanwhile; rerun the step",
                )
            _note_digest(result, tag, remote.digest, ctx)
        return
    for tag in tags:
        creds = (auth.username, auth.password) if auth else None
        try:
            manifest, media, digest = read_manifest(
                result.registry, repo.name, tag, auth=creds, plain_http=plain, insecure=plain
            )
        except RegistryUnauthorized:
            auth = ecr.authorization()
            manifest, media, digest = read_manifest(
                result.registry,
                repo.name,
                tag,
                auth=(auth.username, auth.password),
                plain_http=plain,
                insecure=plain,
            )
        if RemoteImage(tag, digest, manifest, media).config_digest != local_id:
            raise CheckFailed(
                f"pushed {result.image_uri}:{tag}, but the registry now holds another image there",
                hint="another push replaced it meanwhile; rerun the step",
            )
        try:
            registered = ecr.put_image(repo.name, tag, manifest, media, digest)
        except TagConflict as exc:
            raise CheckFailed(
                f"ECR refused tag {tag} in {repo.name}: {exc}",
                hint="another pipeline pushed this immutable tag meanwhile; push a new tag",
            ) from None
        _note_digest(result, tag, registered, ctx)


def _note_digest(result: EcrPushResult, tag: str, digest: str, ctx: StepContext) -> None:
    told = result.digests.get(tag)
    if told and told != digest and tag in result.pushed:
        ctx.console.warn(
            f"{tag}: the container tool reported {told}, the registry holds {digest}; "
            "recording the registry's"
        )
    result.digests[tag] = digest


def _login(
    ecr: Any, tool: Any, host: str, tls_verify: bool, ctx: StepContext, reusable: Any, auth_f: Any
) -> tuple[dict[str, Any], Any]:
    """Log the tool in with a fresh token, or reuse the tool's login while the token is valid.

    The password goes to the tool on stdin and nowhere else; the run record keeps only the
    registry, the tool and the expiry, so the next run on this machine knows it may reuse it.
    """
    if isinstance(reusable, dict) and reusable.get("registry") == host:
        ctx.console.info(
            f"reusing the {tool.name} login to {host} (token valid until {reusable['expires_at']})"
        )
        return reusable, None
    auth = auth_f.result() if auth_f is not None else ecr.authorization()
    tool.login(host, auth.username, auth.password, tls_verify=tls_verify)
    ctx.console.info(f"{tool.name} logged in to {host}")
    expires_at = auth.expires_at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"registry": host, "tool": tool.name, "expires_at": expires_at}, auth


def login_still_valid(tool: Any, previous: Any) -> bool:
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

    env = tool.env if tool.env is not None else os.environ
    if tool.name == "docker":
        config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return host in (data.get("auths") or {}) or host in (data.get("credHelpers") or {})
    from pipekit.core import process
    from pipekit.core.errors import PipekitError

    try:
        proc = process.run(
            [tool.resolve(), "login", "--get-login", host], env=tool.env, check=False, timeout=30
        )
    except (OSError, PipekitError):  # no tool, or it hung: log in afresh
        return False
    return proc.returncode == 0


# -- retag ---------------------------------------------------------------------------
def retag(
    ecr: Any,
    repo: Any,
    found: dict[str, Any],
    options: EcrPushOptions,
    result: EcrPushResult,
    ctx: StepContext,
) -> None:
    """BatchGetImage the manifest of ``retag_from``, PutImage it under each new tag; no layers move."""
    source_tag = options.retag_from or ""
    source = found.get(source_tag)
    if source is None:
        raise CheckFailed(
            f"tag {source_tag!r} not found in ECR repository {repo.name}",
            hint="--retag-from needs a tag that was pushed already",
        )
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
        raise CheckFailed(
            f"immutable repository {repo.name} already has tag {', '.join(conflicts)} with another "
            f"image than {source_tag} ({source.digest}); nothing was retagged",
            hint="choose a new tag; an immutable tag cannot be moved",
        )
    for tag in result.overwritten:
        ctx.console.warn(f"{result.image_uri}:{tag} held {found[tag].digest}: moving it to {source.digest}")
    from pipekit.clients.ecr import TagConflict

    plain = bool(options.registry_override) and (options.insecure_registry or is_loopback(result.registry))
    for tag in to_put:
        if options.registry_override:  # the host is not what the API sees: tag it there too, first
            _mirror_tag(ecr, result.registry, repo.name, tag, source, plain)
        try:
            result.digests[tag] = ecr.put_image(
                repo.name, tag, source.manifest, source.media_type, source.digest
            )
        except TagConflict as exc:
            raise CheckFailed(
                f"ECR refused tag {tag} in {repo.name}: {exc}", hint="choose a new tag"
            ) from None
        result.pushed.append(tag)
    result.digest = source.digest


def _mirror_tag(ecr: Any, host: str, repository: str, tag: str, source: Any, plain: bool) -> None:
    from pipekit.clients.ecr import RegistryUnauthorized, write_manifest

    media = source.media_type or "application/vnd.oci.image.manifest.v1+json"
    try:
        write_manifest(
            host, repository, tag, source.manifest, media, auth=None, plain_http=plain, insecure=plain
        )
    except RegistryUnauthorized:
        auth = ecr.authorization()
        write_manifest(
            host,
            repository,
            tag,
            source.manifest,
            media,
            auth=(auth.username, auth.password),
            plain_http=plain,
            insecure=plain,
        )
