"""The rehearsal's one ``pipekit.yaml``: a service's own settings, every outside system made local.

The base is the sample's ``pipekit.yaml`` as ``pipekit init`` wrote it, or the user's own file
(``pipekit rehearse --config FILE``). What the rehearsal rehearses is kept from it: the
environments with their promotion rules and gates, the Jira gate's settings, the scan policy and
the notification channels. What points at the outside world or at the service's own repository
is replaced (:data:`REPLACED`): the build of the embedded sample, the scan's inputs, ECR, the
GitOps repository and layout, Argo CD, the Jira site. Settings the base lacks and a rehearsal
needs (a Jira project for a ``jira`` gate) come from :func:`defaults`. The merged file is written
to ``<workdir>/pipekit.yaml`` and read by every stage, so all steps see one configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

# dotted keys of the base that the rehearsal replaces whole ("*" matches any one key)
REPLACED = ("service", "build", "ecr", "gitops", "argocd", "scan.reports", "scan.run", "scan.sarif_out",
            "scan.junit_out", "jira.base_url", "jira.cloud_id", "environments.*.overlay", "environments.*.path")
FAST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # Maven's own JVM: a short build starts faster
JIRA_DEFAULTS = {"project": "DEMO", "require": "unreleased", "allowed_statuses": ["Done", "Ready for QA"]}


@dataclass
class Settings:
    """The merged settings and what the merge did, for the rehearsal to report."""

    data: dict[str, Any]
    source: str  # "pipekit init" or the user's file
    replaced: list[str] = field(default_factory=list)  # dotted keys of the base the local world replaced
    defaulted: list[str] = field(default_factory=list)  # dotted keys the base lacked

    @property
    def environments(self) -> list[str]:
        return list((self.data.get("environments") or {}).keys())

    def text(self) -> str:
        import yaml

        head = [f"# pipekit rehearse: the settings of {self.source}, pointed at local stand-ins."]
        if self.replaced:
            head.append(f"# replaced for the local world: {', '.join(self.replaced)}")
        return "\n".join(head) + "\n" + yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False)


def read_base(path: Path) -> dict[str, Any]:
    """A ``pipekit.yaml`` as data, checked as every step checks it (BadInput naming file and line)."""
    from pipekit.core import config

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--config {path}: cannot be read: {exc}") from None
    config.parse(text, path)
    from pipekit.core import yamlload

    return dict(yamlload.load(text, str(path)) or {})


def environments_of(base: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    """The base's environments in promotion order (None: it names none), each one ``pipekit init``
    can onboard, in init's order (BadInput naming the file otherwise)."""
    from pipekit.onboarding.answers import check_environments

    envs = base.get("environments")
    if envs is None:
        return None
    if not isinstance(envs, Mapping):
        raise BadInput(f"--config {where}: environments must map each environment to its settings, "
                       "in promotion order")
    names = tuple(str(e) for e in envs)
    check_environments(names, f"--config {where}: environments")  # the same check as pipekit init's
    return names


def defaults(base: Mapping[str, Any]) -> dict[str, Any]:
    """What a rehearsal needs that the base may lack: a Jira project when an environment has a jira gate."""
    from pipekit.promotion import rules

    gated = any("jira" in env.gates for env in rules.load(dict(base.get("environments") or {})).values())
    return {"jira": dict(JIRA_DEFAULTS)} if gated else {}


def overrides(workdir: Path, service: str, repo: Path, *, container_tool: str, image_repo: str,
              environments: Iterable[str], scan: Mapping[str, Any], maven_offline: bool = True) -> dict[str, Any]:
    """The local world: the embedded sample's build, the bundled scan inputs, moto's ECR, the bare
    GitOps repository in init's layout, the Argo CD stand-in's apps."""
    return {
        "service": service,
        "build": {"project_dir": str(repo), "container_tool": container_tool, "image": {"name": service},
                  "maven": {"offline": maven_offline, "output": "status", "opts": FAST_JVM}},
        "scan": dict(scan),
        "ecr": {"repository": service, "create_repository": True,
                "create": {"image_tag_mutability": "IMMUTABLE", "scan_on_push": True}},
        "gitops": {"repo": str(workdir / "gitops.git"), "branch": "main", "overlay": "apps/{service}/overlays/{env}",
                   "image": image_repo, "author": {"name": "pipekit rehearsal", "email": "rehearsal@pipekit.local"}},
        "argocd": {"plaintext": True, "timeout": 60, "poll_interval": 1, "grace": 10,
                   "apps": {env: f"{service}-{env}" for env in environments}},
    }


def merge(base: Mapping[str, Any], local: Mapping[str, Any], source: str) -> Settings:
    """``defaults(base)`` under ``base`` under ``local``, with the :data:`REPLACED` keys of ``base`` dropped first."""
    kept = copy.deepcopy(dict(base))
    replaced = [key for pattern in REPLACED for key in _drop(kept, pattern.split("."), [])]
    missing = defaults(base)
    defaulted = [f"{k}.{sub}" for k, v in missing.items() for sub in v if sub not in (kept.get(k) or {})]
    data = _deep_merge(_deep_merge(missing, kept), local)
    return Settings(data, source, sorted(set(replaced)), defaulted)


def write(settings: Settings, path: Path) -> None:
    """Write the merged file and check it as the steps will read it."""
    from pipekit.core import config

    text = settings.text()
    config.parse(text, path)
    path.write_text(text, encoding="utf-8")


def _drop(data: dict[str, Any], parts: list[str], at: list[str]) -> list[str]:
    """Remove ``parts`` (``*`` any key) from ``data``; the dotted keys removed."""
    head, rest = parts[0], parts[1:]
    names = list(data) if head == "*" else [head] if head in data else []
    dropped = []
    for name in names:
        if rest:
            if isinstance(data[name], dict):
                dropped += _drop(data[name], rest, [*at, name])
        else:
            del data[name]
            dropped.append(".".join([*at, name]))
    return dropped


def _deep_merge(under: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(under))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def describe(settings: Settings) -> str:
    """One line for the console: where the settings come from and what the local world changed."""
    envs = ", ".join(settings.environments) or "none"
    parts = [f"settings of {settings.source}: environments {envs}"]
    if settings.replaced:
        parts.append(f"replaced for the local stand-ins: {', '.join(settings.replaced)}")
    if settings.defaulted:
        parts.append(f"added for the rehearsal: {', '.join(settings.defaulted)}")
    return "; ".join(parts)

