"""Where a GitOps repository keeps each service's overlays: path -> (service, environment).

The same templates as update-tag (``gitops.overlay``, ``environments.<env>.overlay``; see
:mod:`pipekit.gitops.overlay`) read backwards, so a hand-made commit that edits
``orders/overlays/prod/kustomization.yaml`` is attributed to ``orders`` in ``prod``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipekit.gitops import overlay as ov

_NAMES = "|".join(re.escape(n) for n in ov.KUSTOMIZATION_FILES)


@dataclass
class Layout:
    template: str = ov.DEFAULT_TEMPLATE
    per_env: Mapping[str, str] = field(default_factory=dict)  # environments.<env>.overlay
    service: str | None = None  # the one service of a repository whose template has no {service}
    image: str | None = None  # gitops.image: the images[].name template

    def __post_init__(self) -> None:
        self._rules: list[tuple[re.Pattern[str], str | None]] = []
        for env, template in self.per_env.items():
            ov.overlay_path(template, env, "service")  # the same checks as update-tag (BadInput)
            self._rules.append((self._compile(template.replace("{env}", env)), env))
        ov.overlay_path(self.template, "env", "service")
        self._rules.append((self._compile(self.template), None))

    @staticmethod
    def _compile(template: str) -> re.Pattern[str]:
        pattern = re.escape(template.strip("/"))
        pattern = pattern.replace(re.escape("{env}"), "(?P<env>[^/]+)")
        pattern = pattern.replace(re.escape("{service}"), "(?P<service>[^/]+)")
        return re.compile(f"{pattern}/(?:{_NAMES})")

    def attribute(self, path: str) -> tuple[str, str] | None:
        """(service, environment) of a kustomization file's path, or None when it is no overlay's."""
        for rx, env in self._rules:
            m = rx.fullmatch(path)
            if m is None:
                continue
            groups = m.groupdict()
            service = groups.get("service") or self.service
            environment = env or groups.get("env")
            if service and environment:
                return service, environment
        return None

    def image_name(self, service: str) -> str | None:
        return self.image.replace("{service}", service) if self.image else None
