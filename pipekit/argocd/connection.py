"""Argo CD's live state for ``pipekit status --argocd``: the server settings wait-for-argocd
declares (:class:`~pipekit.argocd.settings.ServerOptions`), which applications to read and how
each service's application is named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipekit.argocd.settings import ServerOptions
from pipekit.core.errors import BadInput
from pipekit.core.options import option

if TYPE_CHECKING:
    from pipekit.clients.argocd import ArgoCDClient


@dataclass(kw_only=True)
class LiveOptions(ServerOptions):
    project: str | None = option(
        env="PIPEKIT_ARGOCD_PROJECT",
        config="argocd.project",
        min_length=1,
        help="Only the applications of this Argo CD project.",
    )
    app_namespace: str | None = option(
        env="PIPEKIT_ARGOCD_APP_NAMESPACE",
        config="argocd.app_namespace",
        min_length=1,
        help="Namespace of the Application resources.",
    )
    request_timeout: float = option(
        15.0,
        env="PIPEKIT_ARGOCD_REQUEST_TIMEOUT",
        config="argocd.request_timeout",
        above=0,
        help="Read timeout of one API request.",
    )
    app_template: str = option(
        "{service}-{env}",
        env="PIPEKIT_ARGOCD_APP_TEMPLATE",
        config="argocd.app_template",
        pattern=r"\{service\}",
        help="pipekit status: the application of a service in an environment ({service}, {env}).",
    )

    def client(self) -> ArgoCDClient:
        """The Argo CD client, or exit 2 naming what is missing (``ARGOCD_OPTS`` applied by the caller)."""
        from pipekit.clients.argocd import ArgoCDClient, base_url  # requests: only when Argo CD is asked

        if not self.server:
            raise BadInput(
                "no Argo CD server: set ARGOCD_SERVER (host[:port] or URL), --server, or argocd.server "
                "in pipekit.yaml"
            )
        if not self.token and not (self.username and self.password):
            raise BadInput(
                "no Argo CD credentials: set ARGOCD_AUTH_TOKEN, or ARGOCD_USERNAME and ARGOCD_PASSWORD"
            )
        return ArgoCDClient(
            base_url(self.server, root_path=self.root_path, plaintext=bool(self.plaintext)),
            token=self.token,
            username=self.username,
            password=self.password,
            verify=not self.insecure,
            request_timeout=self.request_timeout,
        )
