"""The alert answers: thresholds, durations and severities, kept in the service's ``pipekit.yaml``.

``pipekit init`` writes the ``alerts:`` section with the defaults below the first time, and from
then on reads it back: a team changes a value there and runs ``pipekit init`` (or
``init --upgrade``), which regenerates the rules and their unit tests with it and writes the
section back unchanged. What the section holds is what applies; a rule missing from ``rules``
gets its default, an environment without overrides uses ``rules``.

A value pipekit cannot use is exit 2 naming the answer, the file and its line: the
``pipekit.yaml`` schema (its ``alerts`` section in ``pipekit/core/schema/pipekit.schema.json``, made by
:func:`schema_fragment`) checks the types, the ranges and the severities; this module checks what
a schema cannot say (a duration Prometheus would refuse, a placeholder the runbook URL cannot have).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.alerting import catalogue, promql
from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    from pipekit.core.config import Config

SEVERITIES = ("critical", "warning", "info")
RECEIVERS = ("teams", "slack")
RUNBOOK_FIELDS = ("service", "environment", "alert", "alert_lower")
KNOWN_ENVIRONMENTS = ("dev", "qa", "preprod", "prod")
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "seconds": {"type": "number", "exclusiveMinimum": 0},
    "count": {"type": "integer", "minimum": 1, "maximum": 15},
    "duration": {"type": "string"},
}


def default_severity(environment: str) -> str:
    """prod pages; the lower environments only warn."""
    return "critical" if environment == "prod" else "warning"


@dataclass(frozen=True)
class Receiver:
    type: str = "teams"
    url_file: str = ""
    channel: str = ""  # Slack: the channel (Teams: the Workflows URL names it)
    page_receiver: str = ""  # an existing receiver that pages, for severity=critical


@dataclass(frozen=True)
class AlertSettings:
    service: str
    environments: tuple[str, ...]
    enabled: bool = True
    runbook_url: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    receiver: Receiver = field(default_factory=Receiver)
    severity: dict[str, str] = field(default_factory=dict)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)  # every rule: param -> text
    overrides: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=dict
    )  # env -> rule -> param -> text

    def texts(self, key: str, environment: str | None) -> dict[str, str]:
        merged = dict(self.rules[key])
        if environment:
            merged.update(self.overrides.get(environment, {}).get(key, {}))
        return merged

    def values(self, key: str, environment: str | None) -> catalogue.Values:
        texts = self.texts(key, environment)
        alert = catalogue.BY_KEY[key]
        numbers: dict[str, float] = {}
        for name, text in texts.items():
            if name == "severity":
                continue
            kind = "duration" if name == catalogue.FOR else alert.param(name).kind
            numbers[name] = _number(text, kind)
        return catalogue.Values(numbers, texts)

    def severity_of(self, key: str, environment: str | None) -> str:
        texts = self.texts(key, environment)
        if "severity" in texts:
            return texts["severity"]
        if environment is None:
            return "warning"
        return self.severity.get(environment) or default_severity(environment)

    def runbook(self, alert: catalogue.Alert, environment: str | None) -> str:
        return fill(
            self.runbook_url,
            service=self.service,
            environment=environment or "",
            alert=alert.name,
            alert_lower=alert.name.lower(),
        )

    @property
    def url_file(self) -> str:
        return (
            self.receiver.url_file
            or f"/etc/alertmanager/secrets/{self.service}-{self.receiver.type}-webhook-url"
        )


def _number(text: str, kind: str) -> float:
    if kind == "duration":
        seconds = promql.parse_duration(text)
        assert seconds is not None  # checked when loaded
        return seconds
    return float(text)


def fill(template: str, **values: str) -> str:
    """``{name}`` placeholders filled; everything else (Prometheus' ``{{ ... }}``) left alone."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


# -- defaults ------------------------------------------------------------------------------------
def defaults(
    service: str, environments: tuple[str, ...], gitops_url: str = "", branch: str = "main"
) -> AlertSettings:
    rules = {a.key: default_rule(a) for a in catalogue.ALERTS}
    overrides: dict[str, dict[str, dict[str, str]]] = {}
    if "prod" in environments:
        prod = {a.key: dict(a.prod) for a in catalogue.ALERTS if a.prod}
        if prod:
            overrides["prod"] = prod
    return AlertSettings(
        service=service,
        environments=environments,
        runbook_url=default_runbook(service, gitops_url, branch),
        severity={env: default_severity(env) for env in environments},
        rules=rules,
        overrides=overrides,
    )


def default_rule(alert: catalogue.Alert) -> dict[str, str]:
    texts = {p.name: p.default for p in alert.params}
    texts[catalogue.FOR] = alert.default_for
    if alert.severity:
        texts["severity"] = alert.severity
    return texts


def runbook_path(service: str) -> str:
    return f"apps/{service}/alerts/RUNBOOK.md"


def default_runbook(service: str, gitops_url: str, branch: str) -> str:
    """The generated RUNBOOK.md in the GitOps repository's web view, at the alert's heading."""
    web = web_url(gitops_url)
    path = runbook_path(service)
    if web is None:
        return f"{gitops_url.rstrip('/')}/{path}#{{alert_lower}}"
    host = web.split("/")[2]
    if "bitbucket" in host:
        return f"{web}/src/{branch}/{path}#markdown-header-{{alert_lower}}"
    if "gitlab" in host:
        return f"{web}/-/blob/{branch}/{path}#{{alert_lower}}"
    return f"{web}/blob/{branch}/{path}#{{alert_lower}}"


def web_url(url: str) -> str | None:
    """``https://host/owner/repo`` for a git URL (ssh or https), None for a local path."""
    for pattern in (
        r"(?:ssh://)?[\w.-]+@([\w.-]+)(?::\d+)?[:/](.+?)(?:\.git)?/?",
        r"https?://(?:[^@/]+@)?([^/]+)/(.+?)(?:\.git)?/?",
    ):
        match = re.fullmatch(pattern, url)
        if match:
            return f"https://{match.group(1)}/{match.group(2)}"
    return None


# -- pipekit.yaml --------------------------------------------------------------------------------
def load(
    path: Path, service: str, environments: tuple[str, ...], gitops_url: str = "", branch: str = "main"
) -> AlertSettings:
    """The answers in the service's ``pipekit.yaml`` (the defaults when it has no ``alerts:``)."""
    from pipekit.core import config as config_mod

    base = defaults(service, environments, gitops_url, branch)
    if not path.is_file():
        return base
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it: {exc}") from None
    cfg = config_mod.parse(text, path)  # the schema: types, ranges, severities, with file:line
    raw, _lines = config_mod.load_yaml_with_lines(text, str(path))
    section = raw.get("alerts") if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        return base
    return from_section(section, cfg, base)


def from_config(cfg: Config, service: str, environments: tuple[str, ...]) -> AlertSettings:
    """The answers as an already loaded ``pipekit.yaml`` holds them (for ``pipekit alerts``)."""
    base = defaults(
        service, environments, str(cfg.get("gitops.repo") or ""), str(cfg.get("gitops.branch") or "main")
    )
    section = cfg.get("alerts")
    if not isinstance(section, dict):
        return base
    return from_section(_as_text(section), cfg, base)


def _as_text(node: Any) -> Any:
    """The coerced values back to text (a loaded config's numbers and booleans)."""
    if isinstance(node, dict):
        return {k: _as_text(v) for k, v in node.items()}
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, (int, float)):
        return promql.number(node)
    return node


def from_section(section: Mapping[str, Any], cfg: Config, base: AlertSettings) -> AlertSettings:
    def where(*path: str) -> str:
        return f"{cfg.where('alerts', *path)}: alerts.{'.'.join(path)}"

    rules = {key: dict(texts) for key, texts in base.rules.items()}
    for key, given in (section.get("rules") or {}).items():
        rules[key] = {**rules[key], **{k: str(v) for k, v in (given or {}).items()}}
        _check_rule(key, rules[key], given or {}, lambda *p, _k=key: where("rules", _k, *p))
    overrides: dict[str, dict[str, dict[str, str]]] = {}
    for env, rules_of_env in (section.get("environments") or {}).items():
        if env not in KNOWN_ENVIRONMENTS:
            raise BadInput(
                f"{where('environments', env)}: unknown environment {env!r} "
                f"(known: {', '.join(KNOWN_ENVIRONMENTS)})"
            )
        overrides[env] = {}
        for key, given in (rules_of_env or {}).items():
            texts = {k: str(v) for k, v in (given or {}).items()}
            overrides[env][key] = texts
            _check_rule(
                key,
                {**rules[key], **texts},
                texts,
                lambda *p, _e=env, _k=key: where("environments", _e, _k, *p),
            )
    receiver = section.get("receiver") or {}
    enabled = str(section.get("enabled", "true")).lower() in ("true", "1", "yes", "on")
    settings = AlertSettings(
        service=base.service,
        environments=base.environments,
        enabled=enabled,
        runbook_url=str(section.get("runbook_url") or base.runbook_url),
        labels={str(k): str(v) for k, v in (section.get("labels") or {}).items()},
        receiver=Receiver(
            type=str(receiver.get("type") or "teams"),
            url_file=str(receiver.get("url_file") or ""),
            channel=str(receiver.get("channel") or ""),
            page_receiver=str(receiver.get("page_receiver") or ""),
        ),
        severity={
            **{env: default_severity(env) for env in base.environments},
            **{str(k): str(v) for k, v in (section.get("severity") or {}).items()},
        },
        rules=rules,
        overrides=overrides,
    )
    unknown = set(re.findall(r"\{(\w+)\}", settings.runbook_url)) - set(RUNBOOK_FIELDS)
    if unknown:
        raise BadInput(
            f"{where('runbook_url')}: unknown placeholder {{{sorted(unknown)[0]}}} "
            f"(use {', '.join('{' + f + '}' for f in RUNBOOK_FIELDS)})"
        )
    return settings


def _check_rule(key: str, merged: dict[str, str], given: Mapping[str, Any], where: Any) -> None:
    """What the schema cannot check: durations Prometheus parses, ``for`` shorter than the look-back."""
    alert = catalogue.BY_KEY[key]
    for name, value in given.items():
        kind = (
            "duration" if name == catalogue.FOR else (None if name == "severity" else alert.param(name).kind)
        )
        if kind == "duration" and promql.parse_duration(str(value)) is None:
            raise BadInput(
                f"{where(name)}: {str(value)!r} is not a duration Prometheus can parse "
                "(a number and a unit: 30s, 5m, 1h30m, 1d)"
            )
    if "within" in merged:
        within, for_s = promql.parse_duration(merged["within"]), promql.parse_duration(merged[catalogue.FOR])
        if within is not None and for_s is not None and for_s >= within:
            name = catalogue.FOR if catalogue.FOR in given else "within"
            raise BadInput(
                f"{where(name)}: 'for' ({merged[catalogue.FOR]}) must be shorter than 'within' "
                f"({merged['within']}), or the alert can never fire"
            )


# -- the alerts: section, as init writes it -----------------------------------------------------
HEADER = """\
  # The alerts pipekit init writes for {service} (apps/{service}/base/prometheusrule.yaml; each overlay's
  # alerts-patch.yaml and alerts-test.yaml, the promtool unit tests). Change a value here, then run
  # `pipekit init` (or `pipekit init --upgrade`) to regenerate the rules and their tests, and
  # `pipekit alerts test` to check them. docs/alerts.md lists every alert and what to do when it fires.
"""


def section_text(settings: AlertSettings) -> str:
    lines = [
        "alerts:",
        HEADER.format(service=settings.service).rstrip("\n"),
        f"  enabled: {'true' if settings.enabled else 'false'}",
        f"  runbook_url: {_q(settings.runbook_url)}",
    ]
    if settings.labels:
        lines.append("  labels:")
        lines += [f"    {_q(k)}: {_q(v)}" for k, v in settings.labels.items()]
    else:
        lines.append(
            "  labels: {}  # extra labels on the PrometheusRule and ServiceMonitor "
            "(your Prometheus' selector)"
        )
    lines += [
        "  receiver:",
        f"    type: {_q(settings.receiver.type)}",
        f"    url_file: {_q(settings.receiver.url_file)}"
        + (
            ""
            if settings.receiver.url_file
            else "  # default /etc/alertmanager/secrets/<service>-<type>-webhook-url"
        ),
    ]
    if settings.receiver.channel:
        lines.append(f"    channel: {_q(settings.receiver.channel)}")
    if settings.receiver.page_receiver:
        lines.append(f"    page_receiver: {_q(settings.receiver.page_receiver)}")
    lines.append("  severity:  # prod pages, the lower environments warn")
    lines += [
        f"    {env}: {_q(settings.severity.get(env) or default_severity(env))}"
        for env in settings.environments
    ]
    lines.append("  rules:")
    for alert in catalogue.ALERTS:
        lines.append(
            f"    {alert.key}: {_flow(settings.rules[alert.key], alert)}  # {alert.name}{_hint(alert)}"
        )
    if settings.overrides:
        lines.append("  environments:")
        for env in [e for e in KNOWN_ENVIRONMENTS if e in settings.overrides]:
            lines.append(f"    {env}:" + ("" if settings.overrides[env] else " {}"))
            for alert in catalogue.ALERTS:
                if alert.key in settings.overrides[env]:
                    lines.append(f"      {alert.key}: {_flow(settings.overrides[env][alert.key], alert)}")
    return "\n".join(lines) + "\n"


def _hint(alert: catalogue.Alert) -> str:
    return f": {alert.params[0].help}" if alert.params else ""


def _flow(texts: Mapping[str, str], alert: catalogue.Alert) -> str:
    order = [p.name for p in alert.params] + [catalogue.FOR, "severity"]
    names = sorted(texts, key=lambda n: order.index(n) if n in order else len(order))
    return "{" + ", ".join(f"{name}: {_q(texts[name])}" for name in names) + "}"


_PLAIN = re.compile(r"[A-Za-z0-9_./@-][A-Za-z0-9_./@:+-]*")
_AMBIGUOUS = re.compile(r"(?i)(true|false|yes|no|on|off|null|~)")


def _q(value: str) -> str:
    """A YAML scalar, plain when that reads back as the same string (numbers are meant as numbers)."""
    if _PLAIN.fullmatch(value) and not _AMBIGUOUS.fullmatch(value):
        return value
    return json.dumps(value)


def option_schema() -> dict[str, Any]:
    """The ``alerts`` option's schema, with the definitions it refers to (``$defs``), for the generated
    ``pipekit.yaml`` schema (``scripts/gen_schema.py``)."""
    fragment = schema_fragment()
    return {**fragment["properties"]["alerts"], "$defs": fragment["$defs"]}


def schema_fragment() -> dict[str, Any]:
    """The ``alerts:`` section's schema and its definitions, derived from the catalogue."""
    rules: dict[str, Any] = {}
    for alert in catalogue.ALERTS:
        props: dict[str, Any] = {
            p.name: {**PARAM_SCHEMAS[p.kind], "description": p.help} for p in alert.params
        }
        props[catalogue.FOR] = {
            "type": "string",
            "description": "how long the condition holds before it fires",
        }
        props["severity"] = {"$ref": "#/$defs/alert_severity"}
        rules[alert.key] = {
            "type": "object",
            "additionalProperties": False,
            "properties": props,
            "description": f"{alert.name} ({alert.source})",
        }
    return {
        "properties": {
            "alerts": {
                "type": "object",
                "additionalProperties": False,
                "description": "The alert rules pipekit init writes for the service (docs/alerts.md).",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "runbook_url": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "receiver": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "type": {"enum": list(RECEIVERS)},
                            "url_file": {"type": "string"},
                            "channel": {"type": "string"},
                            "page_receiver": {"type": "string"},
                        },
                    },
                    "severity": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/$defs/alert_severity"},
                    },
                    "rules": {"$ref": "#/$defs/alert_rules"},
                    "environments": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/$defs/alert_rules"},
                    },
                },
            }
        },
        "$defs": {
            "alert_severity": {"enum": list(SEVERITIES)},
            "alert_rules": {"type": "object", "additionalProperties": False, "properties": rules},
        },
    }
