"""Where a service's alert files live in the GitOps repository, and their generated text."""

from __future__ import annotations

from pipekit.alerting import routing, rules, runbook
from pipekit.alerting.settings import AlertSettings, runbook_path


def base(service: str) -> str:
    return f"apps/{service}/base"


def overlay(service: str, environment: str) -> str:
    return f"apps/{service}/overlays/{environment}"


def alerts_dir(service: str) -> str:
    return f"apps/{service}/alerts"


def gitops_files(settings: AlertSettings, namespaces: dict[str, str]) -> dict[str, str]:
    """The rule, each environment's patch and unit tests, the Alertmanager snippet, the runbook."""
    service = settings.service
    out = {f"{base(service)}/prometheusrule.yaml": rules.prometheus_rule(settings)}
    for env in settings.environments:
        out[f"{overlay(service, env)}/{rules.PATCH}"] = rules.patch(settings, env, namespaces[env])
        out[f"{overlay(service, env)}/{rules.TESTS}"] = rules.unit_tests(settings, env, namespaces[env])
    out[f"{alerts_dir(service)}/{routing.FILE}"] = routing.text(settings)
    out[runbook_path(service)] = runbook.text(settings, namespaces)
    return out


def overlay_patches(settings: AlertSettings) -> str:
    if not settings.enabled:
        return ""
    return (
        f"patches:\n  - path: {rules.PATCH}\n    target:\n      group: monitoring.coreos.com\n"
        f"      kind: PrometheusRule\n      name: {rules.rule_name(settings.service)}\n"
    )
