"""The Alertmanager route and receiver of one service: its alerts to the team's Teams or Slack channel.

A snippet to merge into the platform's Alertmanager configuration: ``route`` goes under the
top-level route's ``routes``, ``receivers`` into ``receivers``. Critical alerts (prod) are repeated
every hour and, when ``alerts.receiver.page_receiver`` names an existing paging receiver, go there
too. Webhook URLs are secrets: the snippet reads them from a file (mount the secret there).

Teams uses Alertmanager's ``msteamsv2_configs`` (Teams Workflows, as ``pipekit notify`` does), which
needs Alertmanager 0.28 or later; Slack's ``slack_configs`` works on every current release.
"""

from __future__ import annotations

from typing import Any

from pipekit.alerting.settings import AlertSettings

FILE = "alertmanager.yaml"
DEFAULT_RECEIVER = "pipekit-check-default"  # the stand-in root receiver of the configuration amtool checks
# The Alertmanager release that first reads each receiver's configuration as written here (its
# CHANGELOG: msteamsv2 0.28.0, msteams 0.26.0, Slack's api_url_file 0.22.0).
CONFIG_NEEDS = {"msteamsv2_configs": (0, 28, 0), "msteams_configs": (0, 26, 0), "slack_configs": (0, 22, 0)}


def receiver_name(settings: AlertSettings) -> str:
    return f"{settings.service}-{settings.receiver.type}"


def needs(settings: AlertSettings) -> str:
    """The Alertmanager version the service's receiver needs."""
    key = "msteamsv2_configs" if settings.receiver.type == "teams" else "slack_configs"
    return ".".join(map(str, CONFIG_NEEDS[key]))


def snippet(settings: AlertSettings) -> dict[str, Any]:
    name = receiver_name(settings)
    routes: list[dict[str, Any]] = []
    if settings.receiver.page_receiver:
        routes.append(
            {
                "matchers": ['severity="critical"'],
                "receiver": settings.receiver.page_receiver,
                "continue": True,
            }
        )
    routes.append(
        {"matchers": ['severity="critical"'], "receiver": name, "group_wait": "10s", "repeat_interval": "1h"}
    )
    route = {
        "receiver": name,
        "matchers": [f'service="{settings.service}"'],
        "group_by": ["alertname", "environment"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": routes,
    }
    if settings.receiver.type == "slack":
        config: dict[str, Any] = {
            "api_url_file": settings.url_file,
            "channel": settings.receiver.channel or f"#{settings.service}-alerts",
            "send_resolved": True,
            "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} "
            "({{ .CommonLabels.service }} in {{ .CommonLabels.environment }})",
            "text": "{{ range .Alerts }}{{ .Annotations.description }} "
            '<{{ .Annotations.runbook_url }}|runbook>{{ "\\n" }}{{ end }}',
        }
        receiver = {"name": name, "slack_configs": [config]}
    else:
        receiver = {
            "name": name,
            "msteamsv2_configs": [
                {
                    "webhook_url_file": settings.url_file,
                    "send_resolved": True,
                    "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} "
                    "({{ .CommonLabels.service }} in {{ .CommonLabels.environment }})",
                }
            ],
        }
    return {"route": route, "receivers": [receiver]}


def text(settings: AlertSettings) -> str:
    from pipekit.alerting.rules import dump

    kind = (
        "Teams Workflows (msteamsv2_configs)"
        if settings.receiver.type == "teams"
        else "Slack (slack_configs)"
    )
    return (
        f"# Alertmanager routing for the alerts of {settings.service}, "
        "written by pipekit init (pipekit.yaml\n"
        "# alerts.receiver). Merge it into your Alertmanager configuration: `route` under the top-level\n"
        f"# route's `routes`, `receivers` into `receivers`. {kind} needs Alertmanager >= {needs(settings)}.\n"
        f"# The webhook URL is read from {settings.url_file}: mount it there from a secret.\n"
        "# `pipekit alerts test` checks it with amtool.\n"
    ) + dump(snippet(settings))


def checkable(doc: dict[str, Any]) -> dict[str, Any]:
    """A whole Alertmanager configuration holding the snippet, for ``amtool check-config``."""
    receivers = [{"name": DEFAULT_RECEIVER}, *list(doc.get("receivers") or [])]
    known = {r.get("name") for r in receivers if isinstance(r, dict)}
    for child in (doc.get("route") or {}).get("routes") or []:
        name = child.get("receiver") if isinstance(child, dict) else None
        if name and name not in known:  # the platform's paging receiver: defined elsewhere
            receivers.append({"name": name})
            known.add(name)
    return {
        "route": {"receiver": DEFAULT_RECEIVER, "routes": [doc.get("route") or {}]},
        "receivers": receivers,
    }


def expected_receivers(doc: dict[str, Any], severity: str) -> list[str]:
    """The receivers Alertmanager should pick for an alert of the service with ``severity``."""
    route = doc.get("route") or {}
    found = []
    for child in route.get("routes") or []:
        if f'severity="{severity}"' in (child.get("matchers") or []):
            found.append(child["receiver"])
            if not child.get("continue"):
                return found
    return found or [route.get("receiver", "")]
