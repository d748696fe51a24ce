"""The service's runbook: one section per alert (what it means, the series, the thresholds per
environment, what to do), written by init beside the rules and linked from every alert's
``runbook_url`` by default."""

from __future__ import annotations

import re

from pipekit.alerting import catalogue, promql
from pipekit.alerting.settings import AlertSettings, fill


def plain(template: str) -> str:
    """An annotation without Prometheus' template: ``<pod>`` for a label, ``<value>`` for the value."""
    text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", r"<\1>", template)
    return re.sub(r"\{\{[^}]*\$value[^}]*\}\}", "<value>", text)


def text(settings: AlertSettings, namespaces: dict[str, str]) -> str:
    envs = list(settings.environments)
    lines = [
        f"# Runbook: the alerts of {settings.service}",
        "",
        "Written by `pipekit init` from `pipekit.yaml` (`alerts:`); change the thresholds there and run",
        "`pipekit init` again. Every alert carries the labels `service`, `environment` and `severity`;",
        "prod pages (`critical`), the lower environments warn. Check the rules with `pipekit alerts test`.",
        "",
    ]
    for alert in catalogue.ALERTS:
        lines += [
            f"## {alert.name}",
            "",
            plain(
                fill(
                    alert.description,
                    service=settings.service,
                    within="the window",
                    environment="<environment>",
                )
            ),
            "",
            f"Watches {alert.group} health, from {alert.source}: "
            + ", ".join(f"`{s}`" for s in alert.series)
            + ".",
            "",
        ]
        header = "| " + " | ".join(["environment", "severity", "for", *(p.name for p in alert.params)]) + " |"
        lines += [header, "|" + "---|" * (3 + len(alert.params))]
        for env in envs:
            values = settings.values(alert.key, env)
            cells = [env, settings.severity_of(alert.key, env), promql.duration(values.for_s)]
            cells += [values.text[p.name] for p in alert.params]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "What to do:", ""]
        for env in envs[-1:]:  # the commands name the last (production) environment; the others alike
            lines.append(
                fill(
                    alert.action,
                    service=settings.service,
                    environment=env,
                    namespace=namespaces.get(env, env),
                )
            )
            if len(envs) > 1:
                lines += ["", f"(The commands name {env}: use the alert's `environment` and its namespace.)"]
        lines.append("")
    return "\n".join(lines)
