"""The ``gitops`` section of pipekit.yaml, turned into a :class:`Writer` and paths."""

from __future__ import annotations

import posixpath
from typing import Any

from pipekit.clients.git import Identity
from pipekit.clients.kustomize import DEFAULT_RENDERER, Renderer
from pipekit.core.errors import BadInput
from pipekit.core.step import StepContext
from pipekit.gitops import overlay as ov
from pipekit.gitops.edits import ImageEdit
from pipekit.gitops.refs import ImageRef
from pipekit.gitops.writer import DEFAULT_IDENTITY, Writer


def identity(ctx: StepContext, key: str) -> Identity:
    value = ctx.config.get(f"gitops.{key}")
    if isinstance(value, dict) and value.get("name") and value.get("email"):
        return Identity(str(value["name"]), str(value["email"]))
    return DEFAULT_IDENTITY


def writer(ctx: StepContext, repo: str, branch: str, renderer: str | None, push_retries: int | None = None) -> Writer:
    cfg = ctx.config.section("gitops")
    author = identity(ctx, "author")
    committer = identity(ctx, "committer") if cfg.get("committer") else author
    return Writer(
        repo=repo, branch=branch, env=ctx.env,
        renderer=Renderer(renderer or cfg.get("renderer") or DEFAULT_RENDERER),
        push_retries=int(push_retries if push_retries is not None else cfg.get("push_retries", 30)),
        backoff_s=float(cfg.get("backoff_s", 0.5)),
        author=author, committer=committer, username=cfg.get("username"),
        log=ctx.console.debug,
    )


def overlay_template(ctx: StepContext, env: str) -> str:
    override = ctx.config.get(f"environments.{env}.overlay")
    return str(override or ctx.config.get("gitops.overlay") or ov.DEFAULT_TEMPLATE)


def overlay_for(ctx: StepContext, env: str, service: str | None) -> str:
    return ov.overlay_path(overlay_template(ctx, env), env, service)


def image_name(ctx: StepContext, service: str | None) -> str | None:
    template = ctx.config.get("gitops.image")
    if template:
        if "{service}" in template and not service:
            raise BadInput(f"{ctx.config.where('gitops', 'image')}: gitops.image needs a service name (--service)")
        return str(template).replace("{service}", service or "")
    found = ctx.record.output("ecr_push", "image_uri") or ctx.record.output("build", "image")
    return str(found) if found else None


def sparse_for(ctx: StepContext, path: str, service: str | None, values_file: str | None = None) -> list[str]:
    """Directories to check out: the service's folder when the overlay lives in it, else the overlay."""
    if service and path.startswith(f"{service}/"):
        return [service]
    if values_file:
        return [posixpath.dirname(ov.clean(f"{path}/{values_file}", "values file")) or path]
    return [path]


def image_edit(path: str, want: ImageRef, *, create: bool, values_file: str | None, key: str | None,
               message: Any, force: bool = False) -> ImageEdit:
    return ImageEdit(overlay=ov.clean(path, "overlay path"), want=want, create=create,
                     values_file=values_file, key=key, message=message, force=force)
