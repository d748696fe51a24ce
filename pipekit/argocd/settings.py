"""The Argo CD server and how to sign in, declared once: wait-for-argocd waits on it, doctor checks it;
with which applications to read (:class:`AppsOptions`), wait-for-argocd and status share it.

``ARGOCD_OPTS`` (the argocd CLI's own variable) fills ``--insecure``, ``--plaintext`` and
``--grpc-web-root-path`` where no flag, variable or ``pipekit.yaml`` key set them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from pipekit.core.errors import BadInput
from pipekit.core.options import Resolved, option

if TYPE_CHECKING:
    from pipekit.clients.argocd import ArgoCDClient

S = TypeVar("S", bound="ServerOptions")


@dataclass
class ServerOptions:
    server: str = option(
        "",
        flag="--server",
        env="ARGOCD_SERVER",
        config="argocd.server",
        min_length=1,
        help="Argo CD server host[:port] or URL.",
    )
    root_path: str = option(
        "",
        flag="--root-path",
        env="PIPEKIT_ARGOCD_ROOT_PATH",
        config="argocd.root_path",
        help="Path prefix of a server behind a path (e.g. /argo-cd) [default: ARGOCD_OPTS "
        "--grpc-web-root-path].",
    )
    insecure: bool | None = option(
        flag="--insecure",
        env="PIPEKIT_ARGOCD_INSECURE",
        config="argocd.insecure",
        help="Skip TLS certificate verification [default: ARGOCD_OPTS --insecure].",
    )
    plaintext: bool | None = option(
        flag="--plaintext",
        env="PIPEKIT_ARGOCD_PLAINTEXT",
        config="argocd.plaintext",
        help="Use http instead of https [default: ARGOCD_OPTS --plaintext].",
    )
    argocd_opts: str | None = option(
        env="ARGOCD_OPTS", help="The argocd CLI's flags: --insecure, --plaintext, --grpc-web-root-path."
    )
    token: str | None = option(env="ARGOCD_AUTH_TOKEN", secret=True)
    username: str | None = option(env="ARGOCD_USERNAME")
    password: str | None = option(env="ARGOCD_PASSWORD", secret=True)


@dataclass
class AppsOptions(ServerOptions):
    """The server, which of its applications to read, and the client that reads them."""

    project: str | None = option(
        flag="--project",
        env="PIPEKIT_ARGOCD_PROJECT",
        config="argocd.project",
        min_length=1,
        help="Argo CD project of the apps (tells a missing app from a forbidden one).",
    )
    app_namespace: str | None = option(
        flag="--app-namespace",
        env="PIPEKIT_ARGOCD_APP_NAMESPACE",
        config="argocd.app_namespace",
        min_length=1,
        help="Namespace of the Application resources (apps in any namespace).",
    )
    request_timeout: float = option(
        15.0,
        env="PIPEKIT_ARGOCD_REQUEST_TIMEOUT",
        config="argocd.request_timeout",
        above=0,
        help="Read timeout of one API request.",
    )

    def check_sign_in(self) -> None:
        """Exit 2 naming what is missing: the server, or credentials."""
        if not self.server:
            raise BadInput(
                "no Argo CD server: set ARGOCD_SERVER (host[:port] or URL), --server, "
                "or argocd.server in pipekit.yaml"
            )
        if not self.token and not (self.username and self.password):
            raise BadInput(
                "no Argo CD credentials: set ARGOCD_AUTH_TOKEN, or ARGOCD_USERNAME and ARGOCD_PASSWORD"
            )

    def client(self, *, total_timeout: float = 60.0, backoff: float = 0.5) -> ArgoCDClient:
        """The Argo CD client (``ARGOCD_OPTS`` applied by the caller)."""
        from pipekit.clients.argocd import ArgoCDClient, base_url  # requests: only when Argo CD is asked

        self.check_sign_in()
        return ArgoCDClient(
            base_url(self.server, root_path=self.root_path, plaintext=bool(self.plaintext)),
            token=self.token,
            username=self.username,
            password=self.password,
            verify=not self.insecure,
            request_timeout=self.request_timeout,
            total_timeout=total_timeout,
            backoff=backoff,
        )


def with_argocd_opts(resolved: Resolved[S]) -> S:
    """The options with what ``ARGOCD_OPTS`` says where nothing else set it."""
    o = resolved.options
    opts = parse_argocd_opts(o.argocd_opts)
    return replace(
        o,
        root_path=o.root_path if resolved.given("root_path") else opts.get("root_path", ""),
        insecure=o.insecure if o.insecure is not None else opts.get("insecure", False),
        plaintext=o.plaintext if o.plaintext is not None else opts.get("plaintext", False),
    )


def parse_argocd_opts(text: str | None) -> dict[str, Any]:
    """The few ``ARGOCD_OPTS`` flags the argocd CLI users already set."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise BadInput(
            f"environment variable ARGOCD_OPTS: cannot split it like a shell would ({exc}; its value is "
            "not shown: it may hold a token)",
            hint="balance the quotes, e.g. ARGOCD_OPTS='--grpc-web-root-path /argo-cd'",
        ) from None
    found: dict[str, Any] = {}
    for i, word in enumerate(words):
        if word in ("--insecure", "--plaintext"):
            found[word[2:]] = True
        elif word.startswith("--grpc-web-root-path"):
            value = word.split("=", 1)[1] if "=" in word else (words[i + 1] if i + 1 < len(words) else "")
            found["root_path"] = value
    return found
