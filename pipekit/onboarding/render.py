"""Answers -> the files of a service: its repository's and its part of the GitOps repository.

Templates are plain text with ``$name`` placeholders (``string.Template``), shipped as package
data in ``templates/``: the YAML stays readable as YAML, and the few parts that repeat per
environment are filled in here from small per-environment templates. No template engine: a
loop over environments is all the logic there is, and it is easier to read in Python.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from pipekit import __version__
from pipekit.onboarding.answers import GATES, RULES, Answers

TEMPLATE_VERSION = 1  # raise when a template changes the files it generates
TEMPLATES = Path(__file__).with_name("templates")
PLACEHOLDER_TAG = "pending"  # the overlay tag before the first build reaches the environment
DEFAULT_SUITE = ("curl", "--fail", "--silent", "--show-error", "--retry", "5", "--retry-all-errors")
_PLAIN = re.compile(r"[A-Za-z0-9_./@{}-][A-Za-z0-9_./@:{}+-]*")
_AMBIGUOUS = re.compile(r"(?i)(true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9_.:eE+-]*)")


@dataclass
class Files:
    """Generated text by repository-relative path, for the service and the GitOps repository."""

    service: dict[str, str] = field(default_factory=dict)
    gitops: dict[str, str] = field(default_factory=dict)

    def items(self) -> list[tuple[str, str, str]]:
        return [("service", p, t) for p, t in self.service.items()] + [("gitops", p, t) for p, t in self.gitops.items()]


def q(value: str) -> str:
    """A YAML scalar: plain when unambiguous, else double-quoted (JSON strings are valid YAML)."""
    if _PLAIN.fullmatch(value) and not _AMBIGUOUS.fullmatch(value):
        return value
    return json.dumps(value)


def quoted(value: str) -> str:
    """Always a double-quoted YAML string (a JSON string is one): for words YAML must never read
    as anything else (``@x``, ``{a: b}``, ``-``, ``key: value`` in a Job's command)."""
    return json.dumps(value, ensure_ascii=False)


def base_image(answers: Answers, version: str = __version__) -> str:
    name = f"pipekit-base:{version}-jdk{answers.jdk}"
    return f"{answers.registry}/{name}" if answers.registry else name


def overlay_dir(service: str, env: str) -> str:
    return f"apps/{service}/overlays/{env}"


class Renderer:
    def __init__(self, templates: Path | None = None, version: str = __version__,
                 template_version: int = TEMPLATE_VERSION) -> None:
        self.templates = templates or TEMPLATES
        self.version = version
        self.template_version = template_version

    def fill(self, name: str, **values: str) -> str:
        text = (self.templates / name).read_text(encoding="utf-8")
        return Template(text).substitute(values)

    def render(self, a: Answers) -> Files:
        common = {
            "service": q(a.service), "image_repo": q(a.image_repo), "gitops_url": q(a.gitops_url),
            "branch": q(a.branch), "project": q(a.project), "base_image": q(base_image(a, self.version)),
            "pipekit_version": self.version, "template_version": str(self.template_version),
        }
        files = Files()
        files.service["bitbucket-pipelines.yml"] = self.fill(
            "service/bitbucket-pipelines.yml", deploy_steps=self.deploy_steps(a).rstrip("\n"),
            image_block=self.image_block(a), **common)
        files.service["pipekit.yaml"] = self.fill(
            "service/pipekit.yaml", ecr_repository=q(a.image_repo.split("/", 1)[1] if a.registry else a.image_repo),
            argocd_apps="\n".join(f"    {env}: {q(f'{a.service}-{env}')}" for env in a.environments),
            environments=self.environments(a), **common)
        base = f"apps/{a.service}/base"
        suite = a.suite or (*DEFAULT_SUITE, f"http://{a.service}/actuator/health/readiness")
        files.gitops[f"{base}/kustomization.yaml"] = self.fill("gitops/base-kustomization.yaml", **common)
        files.gitops[f"{base}/deployment.yaml"] = self.fill("gitops/deployment.yaml", **common)
        files.gitops[f"{base}/service.yaml"] = self.fill("gitops/service.yaml", **common)
        files.gitops[f"{base}/post-sync-test.yaml"] = self.fill(
            "gitops/post-sync-test.yaml", suite="\n".join(f"            - {quoted(arg)}" for arg in suite), **common)
        for env in a.environments:
            namespace = q(a.namespace(env))
            files.gitops[f"{overlay_dir(a.service, env)}/kustomization.yaml"] = self.fill(
                "gitops/overlay-kustomization.yaml", env=env, namespace=namespace,
                placeholder_tag=PLACEHOLDER_TAG, **common)
            files.gitops[f"argocd/{a.service}/apps/{a.service}-{env}.yaml"] = self.fill(
                "gitops/application.yaml", env=env, namespace=namespace, **common)
        if a.own_project:
            files.gitops[f"argocd/{a.service}/apps/project.yaml"] = self.fill(
                "gitops/appproject.yaml", destinations="\n".join(
                    f"    - server: https://kubernetes.default.svc\n      namespace: {q(a.namespace(env))}"
                    for env in a.environments), **common)
        files.gitops[f"argocd/{a.service}/app-of-apps.yaml"] = self.fill("gitops/app-of-apps.yaml", **common)
        return files

    def image_block(self, a: Answers) -> str:
        """The pipeline's ``image:``: a private ECR image is pulled with the step's OIDC role."""
        image = q(base_image(a, self.version))
        if ".dkr.ecr." not in a.registry:
            return f" {image}"
        return f"\n  name: {image}\n  aws:\n    oidc-role: $AWS_ROLE_ARN"

    def deploy_steps(self, a: Answers) -> str:
        parts = []
        for i, env in enumerate(a.environments):
            values = {"env": env, "service": q(a.service), "source": a.environments[i - 1] if i else ""}
            if i == 0:
                parts.append(self.fill("service/deploy-first.yml", **values))
            elif RULES[env] == "gated":
                parts.append(self.fill("service/deploy-gated.yml", gates=",".join(GATES.get(env, ())), **values))
            else:
                parts.append(self.fill("service/deploy-manual.yml", **values))
        return "".join(parts)

    def environments(self, a: Answers) -> str:
        lines = []
        for i, env in enumerate(a.environments):
            lines.append(f"  {env}:")
            rule = "auto" if i == 0 else RULES[env]
            lines.append(f"    promotion: {rule}")
            if rule == "gated":
                lines.append(f"    gates: [{', '.join(GATES.get(env, ()))}]")
        return "\n".join(lines)
