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
from typing import TYPE_CHECKING

from pipekit import __version__
from pipekit.gitops.kustomization import PLACEHOLDER_TAG  # the overlay tag before the first build reaches it
from pipekit.onboarding.answers import Answers

if TYPE_CHECKING:
    from pipekit.alerting.settings import AlertSettings

TEMPLATE_VERSION = 2  # raise when a template changes the files it generates
TEMPLATES = Path(__file__).with_name("templates")
# The deploy's clocks, one inside the other: the Deployment's rollout may take PROGRESS_DEADLINE_S,
# then the PostSync Job JOB_DEADLINE_S; wait-for-argocd (argocd.timeout) outlasts both.
PROGRESS_DEADLINE_S = 300
JOB_DEADLINE_S = 480
ARGOCD_TIMEOUT_S = 900
SEMGREP_CONFIG = "p/java"
GATE_COMMANDS = {"jira": "pipekit jira-gate"}  # a gated first environment checks its gates before update-tag
_PLAIN = re.compile(r"[A-Za-z0-9_./@{}-][A-Za-z0-9_./@:{}+-]*")
_AMBIGUOUS = re.compile(r"(?i)(true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9_.:eE+-]*)")


@dataclass
class Files:
    """Generated text by repository-relative path, for the service and the GitOps repository."""

    service: dict[str, str] = field(default_factory=dict)
    gitops: dict[str, str] = field(default_factory=dict)

    def items(self) -> list[tuple[str, str, str]]:
        return [("service", p, t) for p, t in self.service.items()] + [
            ("gitops", p, t) for p, t in self.gitops.items()
        ]


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
    def __init__(
        self,
        templates: Path | None = None,
        version: str = __version__,
        template_version: int = TEMPLATE_VERSION,
    ) -> None:
        self.templates = templates or TEMPLATES
        self.version = version
        self.template_version = template_version

    def fill(self, name: str, **values: str) -> str:
        text = (self.templates / name).read_text(encoding="utf-8")
        return Template(text).substitute(values)

    def render(self, a: Answers, alerts: AlertSettings | None = None) -> Files:
        assert a.branch and a.gitops_branch, "the branches are found before rendering (init.branches_of)"
        common = {
            "service": q(a.service),
            "image_repo": q(a.image_repo),
            "gitops_url": q(a.gitops_url),
            # ${branch} is the GitOps branch (as in template 1, so a fork's templates keep their meaning)
            "branch": q(a.gitops_branch),
            "gitops_branch": q(a.gitops_branch),
            "service_branch": a.branch,
            "service_branch_key": q(a.branch),
            "project": q(a.project),
            "base_image": q(base_image(a, self.version)),
            "pipekit_version": self.version,
            "template_version": str(self.template_version),
            "progress_deadline": str(PROGRESS_DEADLINE_S),
            "job_deadline": str(JOB_DEADLINE_S),
        }
        files = Files()
        files.service["bitbucket-pipelines.yml"] = self.fill(
            "service/bitbucket-pipelines.yml",
            deploy_steps=self.deploy_steps(a).rstrip("\n"),
            image_block=self.image_block(a),
            oidc=self.oidc(a, 8),
            **common,
        )
        files.service["pipekit.yaml"] = self.fill(
            "service/pipekit.yaml",
            ecr_repository=q(a.image_repo.split("/", 1)[1] if a.registry else a.image_repo),
            ecr_region=f"\n  region: {a.region}" if a.region else "",
            argocd_timeout=str(ARGOCD_TIMEOUT_S),
            argocd_apps="\n".join(f"    {env}: {q(f'{a.service}-{env}')}" for env in a.environments),
            semgrep_config=SEMGREP_CONFIG,
            jira=f"\njira:\n  project: {a.jira_project}" if a.jira_project else "",
            environments=self.environments(a),
            **common,
        )
        base = f"apps/{a.service}/base"
        files.gitops[f"{base}/kustomization.yaml"] = self.fill("gitops/base-kustomization.yaml", **common)
        files.gitops[f"{base}/deployment.yaml"] = self.fill(
            "gitops/deployment.yaml",
            requests=resources(a.requests),
            limits=resources(a.limits),
            read_only_root="true" if a.read_only_root else "false",
            **common,
        )
        files.gitops[f"{base}/service.yaml"] = self.fill("gitops/service.yaml", **common)
        files.gitops[f"{base}/post-sync-test.yaml"] = self.fill(
            "gitops/post-sync-test.yaml",
            suite="\n".join(f"            - {quoted(arg)}" for arg in job_args(a)),
            **common,
        )
        for env in a.environments:
            namespace = q(a.namespace(env))
            files.gitops[f"{overlay_dir(a.service, env)}/kustomization.yaml"] = self.fill(
                "gitops/overlay-kustomization.yaml",
                env=env,
                namespace=namespace,
                placeholder_tag=PLACEHOLDER_TAG,
                **common,
            )
            files.gitops[f"argocd/{a.service}/apps/{a.service}-{env}.yaml"] = self.fill(
                "gitops/application.yaml", env=env, namespace=namespace, **common
            )
        if a.own_project:
            files.gitops[f"argocd/{a.service}/apps/project.yaml"] = self.fill(
                "gitops/appproject.yaml",
                destinations="\n".join(
                    f"    - server: https://kubernetes.default.svc\n      namespace: {q(a.namespace(env))}"
                    for env in a.environments
                ),
                **common,
            )
        files.gitops[f"argocd/{a.service}/app-of-apps.yaml"] = self.fill("gitops/app-of-apps.yaml", **common)
        self.add_alerts(a, files, common, alerts)
        if a.signing_public_key:
            self.add_signing(a, files, common)
        return files

    def add_alerts(
        self, a: Answers, files: Files, common: dict[str, str], alerts: AlertSettings | None
    ) -> None:
        """The alerts (pipekit.alerting, docs/alerts.md): their answers in pipekit.yaml and, unless
        ``alerts.enabled`` is false, the PrometheusRule and ServiceMonitor in the base, each overlay's
        patch of the rule and its promtool unit tests, the Alertmanager routing and the runbook."""
        from pipekit.alerting import layout, settings

        alerts = alerts or settings.defaults(a.service, a.environments, a.gitops_url, a.gitops_branch)
        files.service["pipekit.yaml"] += settings.section_text(alerts)
        if not alerts.enabled:
            return
        base = f"apps/{a.service}/base"
        files.gitops[f"{base}/kustomization.yaml"] += "  - prometheusrule.yaml\n  - servicemonitor.yaml\n"
        for env in a.environments:
            files.gitops[f"{overlay_dir(a.service, env)}/kustomization.yaml"] += layout.overlay_patches(
                alerts
            )
        labels = "".join(f"\n    {q(k)}: {q(v)}" for k, v in alerts.labels.items())
        files.gitops[f"{base}/servicemonitor.yaml"] = self.fill(
            "gitops/servicemonitor.yaml", monitoring_labels=labels, **common
        )
        files.gitops.update(layout.gitops_files(alerts, {env: a.namespace(env) for env in a.environments}))

    def add_signing(self, a: Answers, files: Files, common: dict[str, str]) -> None:
        """--signing-public-key: a Kyverno policy in the base, the AppProject allowing it, the pipeline
        signing (--sign) and pipekit.yaml trusting the key (signing.public_keys, the signature gate)."""
        base = f"apps/{a.service}/base"
        key = "\n".join(f"                      {line}" for line in a.signing_public_key.strip().splitlines())
        files.gitops[f"{base}/kyverno-verify-images.yaml"] = self.fill(
            "gitops/kyverno-verify-images.yaml",
            policy_name=q(f"verify-images-{a.service}"),
            image_reference=q(f"{a.image_repo}*"),
            public_key=key,
            **common,
        )
        files.gitops[f"{base}/kustomization.yaml"] += "  - kyverno-verify-images.yaml\n"
        project = f"argocd/{a.service}/apps/project.yaml"
        if project in files.gitops:
            files.gitops[project] += "    - group: kyverno.io\n      kind: ClusterPolicy\n"
        files.service["cosign.pub"] = a.signing_public_key.strip() + "\n"
        files.service["pipekit.yaml"] += "signing:\n  public_keys:\n    - cosign.pub\n"
        files.service["bitbucket-pipelines.yml"] = files.service["bitbucket-pipelines.yml"].replace(
            "          - pipekit ecr-push --create-repository\n",
            "          # --sign: PIPEKIT_SIGNING_KEY (repository variable: awskms:///ARN, "
            "or a key file with\n"
            "          # COSIGN_PASSWORD as a secured variable) signs the pushed digest\n"
            "          - pipekit ecr-push --create-repository --sign\n",
        )

    def image_block(self, a: Answers) -> str:
        """The pipeline's ``image:``: a private ECR image is pulled with the step's OIDC role."""
        image = q(base_image(a, self.version))
        if not pulled_with_oidc(a):
            return f" {image}"
        return f"\n  name: {image}\n  aws:\n    oidc-role: $AWS_ROLE_ARN"

    @staticmethod
    def oidc(a: Answers, indent: int) -> str:
        """``oidc: true`` for every step when the base image is pulled from ECR with the OIDC role:
        Bitbucket uses the role to pull a step's image only for a step with OIDC enabled."""
        return f"\n{' ' * indent}oidc: true" if pulled_with_oidc(a) else ""

    def deploy_steps(self, a: Answers) -> str:
        parts = []
        for i, env in enumerate(a.environments):
            rule = a.rule(env)
            values = {
                "env": env,
                "service": q(a.service),
                "source": a.environments[i - 1] if i else "",
                "oidc": self.oidc(a, 10),
            }
            if (
                i == 0
            ):  # no environment before it: the build's image goes in, under the environment's own rule
                gate = (
                    "".join(f"            - {GATE_COMMANDS[g]}\n" for g in a.gates(env))
                    if rule == "gated"
                    else ""
                )
                parts.append(
                    self.fill(
                        "service/deploy-first.yml",
                        gate=gate,
                        title=f" ({','.join(a.gates(env))} gate)" if gate else "",
                        trigger="\n          trigger: manual" if rule == "manual" else "",
                        **values,
                    )
                )
            elif rule == "gated":
                parts.append(self.fill("service/deploy-gated.yml", gates=",".join(a.gates(env)), **values))
            elif rule == "manual":
                parts.append(self.fill("service/deploy-manual.yml", **values))
            else:
                parts.append(self.fill("service/deploy-auto.yml", **values))
            if env in a.pull_request_envs:
                parts[-1] = by_pull_request(parts[-1], env)
        return "".join(parts)

    def environments(self, a: Answers) -> str:
        lines = []
        for env in a.environments:
            lines.append(f"  {env}:")
            rule = a.rule(env)
            lines.append(f"    promotion: {rule}")
            if rule == "gated":
                lines.append(f"    gates: [{', '.join(a.gates(env))}]")
            if env in a.pull_request_envs:
                lines += PULL_REQUEST_SETTINGS
        return "\n".join(lines)


# --via-pull-request: the environment's settings (docs/pull_requests.md) and what its deploy step says
PULL_REQUEST_SETTINGS = [
    "    # by pull request in the GitOps repository (docs/pull_requests.md): "
    "the deploy step opens it with the",
    "    # release notes, waits until it is approved by someone other than its author, merges it and deploys",
    "    # the merge commit",
    "    via: pull-request",
    "    pull_request:",
    "      # reviewers: [...]  # Cloud: account ids or {uuid}s; Data Center: user slugs",
    "      min_approvals: 1",
    "      merge: true  # pipekit merges once approved; false: it waits for a reviewer to merge it",
    "      wait_merge: true  # the step waits for the merge, so wait-for-argocd deploys the merge commit",
    "      merge_timeout: 3600  # seconds the step waits (within Bitbucket's step max-time)",
]
PULL_REQUEST_STEP = (
    "            # by pull request (environments.{env} in pipekit.yaml): opened and merged with\n"
    "            # PIPEKIT_GITOPS_TOKEN on Bitbucket Cloud (PIPEKIT_BITBUCKET_API_URL) or Data Center\n"
    "            # (PIPEKIT_BITBUCKET_SERVER_URL); "
    "the step waits until a reviewer approves and it is merged\n"
)


def by_pull_request(step: str, env: str) -> str:
    """A deploy step whose change goes by pull request: named so, and saying what it needs."""
    lines = step.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("name: "):
            lines[i] = line.rstrip("\n") + " by pull request\n"
        elif line.lstrip().startswith(("- pipekit promote ", "- pipekit update-tag ")):
            lines[i] = PULL_REQUEST_STEP.format(env=env) + line
            break
    return "".join(lines)


def pulled_with_oidc(a: Answers) -> bool:
    return ".dkr.ecr." in a.registry


def job_args(a: Answers) -> list[str]:
    """The PostSync Job's arguments after ``--junit-dir /reports``: the upload, then the suite after ``--``,
    or (no suite) the readiness endpoint as a health check reported as a one-test suite."""
    upload = ["--upload", a.test_results_s3] if a.test_results_s3 else []
    if a.suite:
        return [*upload, "--", *a.suite]
    return [*upload, "--health-url", f"http://{a.service}/actuator/health/readiness"]


def resources(value: str) -> str:
    from pipekit.onboarding.answers import resources as parse

    return "\n".join(
        f"              {key}: {q(quantity)}" for key, quantity in parse(value, "resources").items()
    )
