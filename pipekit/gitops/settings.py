"""The GitOps write settings shared by update-tag and promote (one option table), turned into a :class:`Writer`."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from pipekit.clients.git import Identity
from pipekit.clients.kustomize import DEFAULT_RENDERER, Renderer
from pipekit.core.errors import BadInput
from pipekit.core.options import Option, OptionTable
from pipekit.core.step import StepContext
from pipekit.gitops import overlay as ov
from pipekit.gitops.edits import ImageEdit
from pipekit.gitops.refs import ImageRef
from pipekit.gitops.writer import DEFAULT_IDENTITY, Writer

OPTIONS = OptionTable([
    Option("gitops_repo", "--gitops-repo", env="PIPEKIT_GITOPS_REPO", config="gitops.repo", default="",
           help="GitOps repository URL or path."),
    Option("branch", "--branch", env="PIPEKIT_GITOPS_BRANCH", config="gitops.branch", default="main",
           help="Branch to write."),
    Option("renderer", "--renderer", env="PIPEKIT_GITOPS_RENDERER", config="gitops.renderer", default=DEFAULT_RENDERER,
           help="Render command ({dir} = overlay) or 'none'."),
    Option("username", env="PIPEKIT_GITOPS_USERNAME", config="gitops.username",
           help="HTTPS username for PIPEKIT_GITOPS_TOKEN (default x-token-auth)."),
    Option("push_retries", config="gitops.push_retries", type="int", default=30, minimum=0, maximum=100),
    Option("backoff_s", config="gitops.backoff_s", type="float", default=0.5, minimum=0, maximum=30),
    Option("author", config="gitops.author", type="data"),
    Option("committer", config="gitops.committer", type="data"),
])


def identity(value: Any, default: Identity = DEFAULT_IDENTITY) -> Identity:
    if isinstance(value, Mapping) and value.get("name") and value.get("email"):
        return Identity(str(value["name"]), str(value["email"]))
    return default


def write_settings(v: Mapping[str, Any]) -> dict[str, Any]:
    """The writer's settings from resolved :data:`OPTIONS` values, as options dataclass fields."""
    author = identity(v["author"])
    return {"gitops_repo": v["gitops_repo"] or "", "branch": v["branch"] or "main",
            "renderer": v["renderer"] or DEFAULT_RENDERER, "push_retries": v["push_retries"],
            "backoff_s": v["backoff_s"], "username": v["username"], "author": author,
            "committer": identity(v["committer"], author)}


def writer(ctx: StepContext, repo: str, branch: str, renderer: str | None, push_retries: int = 30, *,
           backoff_s: float = 0.5, username: str | None = None, author: Identity = DEFAULT_IDENTITY,
           committer: Identity | None = None) -> Writer:
    """A writer for ``repo``; ``ctx`` gives only the child processes' environment and the log."""
    return Writer(
        repo=repo, branch=branch, env=ctx.env, renderer=Renderer(renderer or DEFAULT_RENDERER),
        push_retries=push_retries, backoff_s=backoff_s, author=author, committer=committer or author,
        username=username, log=ctx.console.debug,
    )


def overlay_template(env: str, template: str | None, environments: Any = None) -> str:
    """``environments.<env>.overlay``, else ``gitops.overlay``, else the default template."""
    section = environments.get(env) if isinstance(environments, Mapping) else None
    override = section.get("overlay") if isinstance(section, Mapping) else None
    return str(override or template or ov.DEFAULT_TEMPLATE)


def overlay_for(env: str, service: str | None, template: str | None, environments: Any = None) -> str:
    """The overlay path of ``env`` for ``service``."""
    return ov.overlay_path(overlay_template(env, template, environments), env, service)


def image_name(template: str | None, service: str | None, where: str, recorded: str | None) -> str | None:
    """images[].name: ``gitops.image`` (``{service}`` filled in), else the image the run record names."""
    if template:
        if "{service}" in template and not service:
            raise BadInput(f"{where}: gitops.image needs a service name (--service)")
        return str(template).replace("{service}", service or "")
    return recorded or None


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
