"""The GitOps repository settings (``gitops.*`` in pipekit.yaml, ``PIPEKIT_GITOPS_*``), declared once:
:class:`RepoOptions` for the steps that read its history (dora, history), :class:`WriteOptions` for
the ones that write to it (update-tag, promote, rollback), turned into a :class:`Writer`, and
:class:`RenderOptions` for how an overlay is rendered (also init's)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipekit.clients.kustomize import DEFAULT_RENDERER
from pipekit.core.errors import BadInput
from pipekit.core.options import option, ref
from pipekit.gitops import overlay as ov

if TYPE_CHECKING:  # the writer loads where a step writes: dora and history --help stay quick
    from pipekit.clients.git import Identity
    from pipekit.core.step import StepContext
    from pipekit.gitops.edits import ImageEdit
    from pipekit.gitops.refs import ImageRef
    from pipekit.gitops.writer import Writer


def identity(value: Any) -> Identity:
    """``{name, email}`` from pipekit.yaml as an :class:`Identity`, else pipekit's own."""
    from pipekit.gitops.writer import DEFAULT_IDENTITY

    return _identity_or_none(value) or DEFAULT_IDENTITY


def _identity_or_none(value: Any) -> Identity | None:  # a committer's None: the author commits too
    from pipekit.clients.git import Identity

    if isinstance(value, Mapping) and value.get("name") and value.get("email"):
        return Identity(str(value["name"]), str(value["email"]))
    return None


@dataclass(kw_only=True)
class RepoOptions:
    """The GitOps repository and branch."""

    gitops_repo: str = option(
        flag="--gitops-repo",
        env="PIPEKIT_GITOPS_REPO",
        config="gitops.repo",
        min_length=1,
        required="pass the GitOps repository URL or path (or set PIPEKIT_GITOPS_REPO or gitops.repo)",
        help="GitOps repository URL or path.",
    )
    branch: str = option(
        "main",
        flag="--branch",
        env="PIPEKIT_GITOPS_BRANCH",
        config="gitops.branch",
        min_length=1,
        help="Branch of the GitOps repository.",
    )


@dataclass(kw_only=True)
class RenderOptions:
    """How an overlay is rendered to check it (update-tag, promote, rollback, init)."""

    renderer: str = option(
        DEFAULT_RENDERER,
        flag="--renderer",
        env="PIPEKIT_GITOPS_RENDERER",
        config="gitops.renderer",
        min_length=1,
        help="Render command ({dir} = overlay) or 'none'.",
    )


@dataclass(kw_only=True)
class WriteOptions(RenderOptions, RepoOptions):
    """How a step writes to the GitOps repository, and where each environment's overlay is."""

    username: str | None = option(
        env="PIPEKIT_GITOPS_USERNAME",
        config="gitops.username",
        min_length=1,
        help="HTTPS username for PIPEKIT_GITOPS_TOKEN (default x-token-auth).",
    )
    push_retries: int = option(
        30, config="gitops.push_retries", minimum=0, maximum=100, help="Re-applies after a rejected push."
    )
    backoff_s: float = option(
        0.5,
        config="gitops.backoff_s",
        minimum=0,
        maximum=30,
        help="Base of the jittered exponential backoff between push retries, seconds.",
    )
    author: Identity = option(
        kind=dict[str, str],
        convert=identity,
        config="gitops.author",
        schema=ref("gitops_identity"),
        help="Name and email of the commits' author.",
    )
    committer: Identity | None = option(
        kind=dict[str, str],
        convert=_identity_or_none,
        config="gitops.committer",
        schema=ref("gitops_identity"),
        help="Committer [default: the author].",
    )
    image: str | None = option(
        config="gitops.image", min_length=1, help="images[].name template ({service} filled in)."
    )
    overlay: str | None = option(
        config="gitops.overlay", min_length=1, help="Overlay path template with {env} and {service}."
    )
    environments: dict[str, Any] = option(
        default_factory=dict,
        config="environments",
        schema={"additionalProperties": ref("environments_env")},
        help="Deployment environments in promotion order (dev -> qa -> preprod -> prod), each with its "
        "promotion rule.",
    )

    def writer(self, ctx: StepContext) -> Writer:
        """A writer for the repository; ``ctx`` gives only the child processes' environment and the log."""
        from pipekit.clients.kustomize import Renderer
        from pipekit.gitops.writer import Writer

        return Writer(
            repo=self.gitops_repo,
            branch=self.branch or "main",
            env=ctx.env,
            renderer=Renderer(self.renderer or DEFAULT_RENDERER),
            push_retries=self.push_retries,
            backoff_s=self.backoff_s,
            author=self.author,
            committer=self.committer or self.author,
            username=self.username,
            log=ctx.console.debug,
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


def image_edit(
    path: str,
    want: ImageRef,
    *,
    create: bool,
    values_file: str | None,
    key: str | None,
    message: Any,
    force: bool = False,
) -> ImageEdit:
    from pipekit.gitops.edits import ImageEdit

    return ImageEdit(
        overlay=ov.clean(path, "overlay path"),
        want=want,
        create=create,
        values_file=values_file,
        key=key,
        message=message,
        force=force,
    )
