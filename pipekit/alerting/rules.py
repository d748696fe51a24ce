"""The rule files init writes: the base PrometheusRule, each overlay's patch and promtool unit tests.

The base holds every alert with the default thresholds, no namespace and severity ``warning``.
Each overlay's ``alerts-patch.yaml`` (a JSON 6902 patch) changes what differs in that environment:
the expressions (its namespace and thresholds), ``for``, the severity, the ``environment`` label
and any annotation that names the environment. Every change is guarded by a ``test`` of the
alert's name at that place, so a rule moved or removed in the base fails the render loudly instead
of patching the wrong alert.

``alerts-test.yaml`` beside the patch holds the promtool unit tests of that environment's rules: a
firing case and a quiet case for each alert (:mod:`pipekit.alerting.catalogue`), with the labels and
annotations Prometheus will give the alert.
"""

from __future__ import annotations

import json
from typing import Any

from pipekit.alerting import catalogue, promql
from pipekit.alerting.settings import AlertSettings

RULE_FILE = "alerts.rules.yaml"  # what `pipekit alerts test` extracts each rendered overlay's groups to
PATCH = "alerts-patch.yaml"
TESTS = "alerts-test.yaml"
EVALUATION_INTERVAL = "1m"


def rule_name(service: str) -> str:
    return f"{service}-alerts"


def scope(settings: AlertSettings, environment: str | None, namespace: str | None) -> catalogue.Scope:
    return catalogue.Scope(settings.service, environment, namespace)


def rule(
    alert: catalogue.Alert, settings: AlertSettings, environment: str | None, namespace: str | None
) -> dict[str, Any]:
    """One alerting rule as Prometheus reads it."""
    where = scope(settings, environment, namespace)
    values = settings.values(alert.key, environment)
    labels = {"service": settings.service, "severity": settings.severity_of(alert.key, environment)}
    if environment:
        labels["environment"] = environment
    texts = {
        "service": settings.service,
        "environment": environment or "<environment>",
        "within": values.text.get("within", ""),
    }
    return {
        "alert": alert.name,
        "expr": alert.expr(where, values),
        "for": promql.duration(values.for_s),
        "labels": labels,
        "annotations": {
            "summary": _fill(alert.summary, texts),
            "description": _fill(alert.description, texts),
            "runbook_url": settings.runbook(alert, environment),
        },
    }


def _fill(template: str, texts: dict[str, str]) -> str:
    from pipekit.alerting.settings import fill

    return fill(template, **texts)


def groups(
    settings: AlertSettings, environment: str | None = None, namespace: str | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{settings.service}-{group}",
            "rules": [
                rule(a, settings, environment, namespace) for a in catalogue.ALERTS if a.group == group
            ],
        }
        for group in catalogue.GROUPS
    ]


def prometheus_rule(settings: AlertSettings) -> str:
    metadata: dict[str, Any] = {
        "name": rule_name(settings.service),
        "labels": {"app.kubernetes.io/name": settings.service, **settings.labels},
    }
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": groups(settings)},
    }
    return (
        f"# The alerts of {settings.service}, with the default thresholds (pipekit.yaml alerts.rules):\n"
        "# each overlay's alerts-patch.yaml scopes them to its namespace and sets its thresholds and\n"
        "# severity. Written by pipekit init; docs/alerts.md says what each watches.\n"
    ) + dump(doc)


def patch(settings: AlertSettings, environment: str, namespace: str) -> str:
    """The JSON 6902 patch that turns the base's rules into this environment's."""
    base = groups(settings)
    mine = groups(settings, environment, namespace)
    out = [
        f"# {settings.service} in {environment}: what its alerts change from the base "
        f"(namespace {namespace},\n"
        "# the thresholds and severity of pipekit.yaml). Written by pipekit init from pipekit.yaml alerts.\n"
    ]
    for gi, (group, base_group) in enumerate(zip(mine, base, strict=True)):
        for ri, (r, b) in enumerate(zip(group["rules"], base_group["rules"], strict=True)):
            at = f"/spec/groups/{gi}/rules/{ri}"
            out.append(f"# {r['alert']}\n")
            out.append(_op("test", f"{at}/alert", r["alert"]))
            for key in ("expr", "for"):
                if r[key] != b[key]:
                    out.append(_op("replace", f"{at}/{key}", r[key]))
            for section in ("labels", "annotations"):
                for name, value in r[section].items():
                    if b[section].get(name) != value:
                        op = "replace" if name in b[section] else "add"
                        out.append(_op(op, f"{at}/{section}/{_pointer(name)}", value))
    return "".join(out)


def _op(op: str, path: str, value: str) -> str:
    return f"- op: {op}\n  path: {path}\n  value: {_scalar(value, 4)}\n"


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def unit_tests(settings: AlertSettings, environment: str, namespace: str) -> str:
    """promtool's unit tests of the environment's rules:
    each alert fires on its case and stays quiet on the other."""
    where = scope(settings, environment, namespace)
    out = [
        f"# promtool unit tests of the alerts of {settings.service} in {environment}: a firing and a quiet\n"
        "# case per alert, written by pipekit init from the thresholds in "
        "pipekit.yaml. `pipekit alerts test`\n"
        f"# renders this overlay, writes the PrometheusRule's groups to {RULE_FILE} beside a copy of\n"
        "# this file, and runs promtool check rules and promtool test rules.\n"
        f"rule_files:\n  - {RULE_FILE}\nevaluation_interval: {EVALUATION_INTERVAL}\ntests:\n"
    ]
    for group in groups(settings, environment, namespace):
        for r in group["rules"]:
            alert = catalogue.BY_NAME[r["alert"]]
            values = settings.values(alert.key, environment)
            for verb, case in (
                ("fires", alert.firing(where, values)),
                ("stays quiet", alert.quiet(where, values)),
            ):
                out.append(_test(r, f"{alert.name} {verb}: {case.name}", case))
    return "".join(out)


def _test(r: dict[str, Any], name: str, case: catalogue.Case) -> str:
    lines = [f"  - name: {_scalar(name, 6)}", f"    interval: {catalogue.INTERVAL}", "    input_series:"]
    for series, values in case.series:
        lines += [f"      - series: '{series}'", f"        values: '{promql.series_values(values)}'"]
    lines += [
        "    alert_rule_test:",
        f"      - eval_time: {case.eval_min}m",
        f"        alertname: {r['alert']}",
    ]
    if case.expect:
        lines.append("        exp_alerts:")
    for labels, value in case.expect:
        every = {**labels, **r["labels"]}
        lines.append("          - exp_labels:")
        lines += [f"              {k}: {_scalar(v, 16)}" for k, v in every.items()]
        lines.append("            exp_annotations:")
        lines += [
            f"              {k}: {_scalar(promql.expand(text, every, value), 16)}"
            for k, text in r["annotations"].items()
        ]
    return "\n".join(lines) + "\n"


def _scalar(value: str, indent: int) -> str:
    """A string as YAML: a literal block when it has several lines, else JSON's double quotes."""
    if "\n" in value:
        pad = " " * indent
        return "|-\n" + "\n".join(pad + line if line else "" for line in value.split("\n"))
    return json.dumps(value, ensure_ascii=False)


# -- YAML as people write it: block style, multi-line expressions as literal blocks -------------
def dump(doc: Any) -> str:
    import yaml

    return yaml.dump(
        doc, Dumper=_dumper(), sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True
    )


_DUMPER: Any = None


def _dumper() -> Any:
    global _DUMPER
    if _DUMPER is None:
        import yaml

        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class Dumper(base):  # type: ignore[misc, valid-type]
            pass

        def text(dumper: Any, value: str) -> Any:
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, text)
        _DUMPER = Dumper
    return _DUMPER
