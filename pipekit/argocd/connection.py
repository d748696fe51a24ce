"""Argo CD's server and credentials as options (the same variables and ``argocd.*`` keys as
wait-for-argocd), for the steps that read live state: ``pipekit status --argocd``."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipekit.core.errors import BadInput
from pipekit.core.options import option

if TYPE_CHECKING:
    from pipekit.clients.argocd import ArgoCDClient


@dataclass(kw_only=True)
class ArgoConnection:
    argocd_server: str | None = option(env="ARGOCD_SERVER", config="argocd.server",
                                       help="Argo CD server host[:port] or URL.")
    argocd_token: str | None = field(default=None, repr=False,
                                     metadata=option(env="ARGOCD_AUTH_TOKEN", secret=True).metadata)
    argocd_username: str | None = option(env="ARGOCD_USERNAME", help="Argo CD user (with ARGOCD_PASSWORD).")
    argocd_password: str | None = field(default=None, repr=False,
                                        metadata=option(env="ARGOCD_PASSWORD", secret=True).metadata)
    argocd_opts: str | None = option(env="ARGOCD_OPTS", help="The argocd CLI's flags: --insecure, --plaintext, "
                                                            "--grpc-web-root-path.")
    argocd_root_path: str | None = option(env="PIPEKIT_ARGOCD_ROOT_PATH", config="argocd.root_path",
                                          help="Path prefix of a server behind a path.")
    argocd_insecure: bool | None = option(env="PIPEKIT_ARGOCD_INSECURE", config="argocd.insecure",
                                          help="Skip TLS certificate verification.")
    argocd_plaintext: bool | None = option(env="PIPEKIT_ARGOCD_PLAINTEXT", config="argocd.plaintext",
                                           help="Use http instead of https.")
    argocd_project: str | None = option(env="PIPEKIT_ARGOCD_PROJECT", config="argocd.project",
                                        help="Only the applications of this Argo CD project.")
    argocd_app_namespace: str | None = option(env="PIPEKIT_ARGOCD_APP_NAMESPACE", config="argocd.app_namespace",
                                              help="Namespace of the Application resources.")
    argocd_request_timeout: float = option(15.0, env="PIPEKIT_ARGOCD_REQUEST_TIMEOUT",
                                           config="argocd.request_timeout", above=0,
                                           help="Read timeout of one API request, seconds.")
    argocd_app_template: str = option("{service}-{env}", env="PIPEKIT_ARGOCD_APP_TEMPLATE",
                                      config="argocd.app_template",
                                      help="The application of a service in an environment ({service}, {env}).")


def _cli_opts(text: str | None) -> dict[str, object]:
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise BadInput(f"environment variable ARGOCD_OPTS: cannot split it like a shell would ({exc})") from None
    found: dict[str, object] = {}
    for i, word in enumerate(words):
        if word in ("--insecure", "--plaintext"):
            found[word[2:]] = True
        elif word.startswith("--grpc-web-root-path"):
            found["root_path"] = word.split("=", 1)[1] if "=" in word else (words[i + 1] if i + 1 < len(words)
                                                                               else "")
    return found


def client(c: ArgoConnection) -> ArgoCDClient:
    """The Argo CD client, or exit 2 naming what is missing."""
    from pipekit.clients.argocd import ArgoCDClient, base_url  # requests: only when Argo CD is asked

    if not c.argocd_server:
        raise BadInput("no Argo CD server: set ARGOCD_SERVER (host[:port] or URL) or argocd.server in pipekit.yaml")
    if not c.argocd_token and not (c.argocd_username and c.argocd_password):
        raise BadInput("no Argo CD credentials: set ARGOCD_AUTH_TOKEN, or ARGOCD_USERNAME and ARGOCD_PASSWORD")
    opts = _cli_opts(c.argocd_opts)
    plaintext = c.argocd_plaintext if c.argocd_plaintext is not None else bool(opts.get("plaintext"))
    insecure = c.argocd_insecure if c.argocd_insecure is not None else bool(opts.get("insecure"))
    root = c.argocd_root_path if c.argocd_root_path is not None else str(opts.get("root_path") or "")
    return ArgoCDClient(base_url(c.argocd_server, root_path=root, plaintext=plaintext), token=c.argocd_token,
                        username=c.argocd_username, password=c.argocd_password, verify=not insecure,
                        request_timeout=c.argocd_request_timeout)
