"""``pipekit alerts test``'s work: render each overlay, check its PrometheusRule, run promtool and amtool.

For every environment: ``kubectl kustomize`` renders the overlay (all at once), the rendered
PrometheusRule must match the prometheus-operator CRD's schema (shipped in
``pipekit/alerting/schema/`` with its licence) and pipekit's contract (every alert carries
``service``, ``environment`` and ``severity`` labels and a ``summary``, ``description`` and
``runbook_url``), and its groups are written as a plain rule file for ``promtool check rules``
and, beside a copy of the overlay's ``alerts-test.yaml``, for ``promtool test rules``.

promtool evaluates every rule of the rule file at every step of every test, so a file with all
alerts costs about sixteen times what it must. The tests are therefore run per alert: each alert's
test groups beside a rule file holding that alert (and every recording rule, which an alert may
read). Tests that check an expression (``promql_expr_test``) or read ``ALERTS`` run against the
whole file. The result is the same; promtool runs in two processes side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipekit.alerting import routing
from pipekit.alerting.rules import RULE_FILE, dump
from pipekit.alerting.settings import SEVERITIES
from pipekit.core.errors import BadInput

SCHEMA = Path(__file__).with_name("schema") / "prometheusrule-v1.schema.json"
LABELS = ("service", "environment", "severity")
ANNOTATIONS = ("summary", "description", "runbook_url")


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def rule_problems(doc: Mapping[str, Any], label: str) -> list[str]:
    """A rendered PrometheusRule against the CRD's schema and the labels and annotations pipekit promises."""
    problems = []
    for error in sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))[:5]:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{label}: PrometheusRule {where}: {error.message[:200]}")
    for group in (doc.get("spec") or {}).get("groups") or []:
        for r in (group.get("rules") or []) if isinstance(group, dict) else []:
            if not isinstance(r, dict) or "alert" not in r:
                continue
            labels, annotations = r.get("labels") or {}, r.get("annotations") or {}
            missing = [f"label {n}" for n in LABELS if not labels.get(n)]
            missing += [f"annotation {n}" for n in ANNOTATIONS if not annotations.get(n)]
            if missing:
                problems.append(f"{label}: alert {r['alert']} has no {', '.join(missing)}")
            elif labels["severity"] not in SEVERITIES:
                problems.append(
                    f"{label}: alert {r['alert']}: severity {labels['severity']!r} is not one of "
                    f"{', '.join(SEVERITIES)}"
                )
    return problems


def prometheus_rules(docs: list[Any]) -> list[dict[str, Any]]:
    return [
        d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind") == "PrometheusRule"
        and str(d.get("apiVersion", "")).startswith("monitoring.coreos.com/")
    ]


@dataclass
class EnvironmentCheck:
    environment: str
    overlay: str
    rules: int = 0
    tests: int = 0
    problems: list[str] = field(default_factory=list)  # schema, contract, promtool check rules
    failures: list[str] = field(default_factory=list)  # promtool test rules

    @property
    def passed(self) -> bool:
        return not self.problems and not self.failures


@dataclass
class Bucket:
    """Test groups run against one rule file."""

    environment: str
    name: str  # the alert, or "all"
    rules: Path
    tests: Path


def rule_file(rules: list[dict[str, Any]]) -> dict[str, Any]:
    groups = []
    for doc in rules:
        for group in (doc.get("spec") or {}).get("groups") or []:
            groups.append(group)
    return {"groups": groups}


def split(environment: str, folder: Path, rules: dict[str, Any], tests: dict[str, Any]) -> list[Bucket]:
    """Write the rule file and the tests of one environment into ``folder``, per alert where that is safe."""
    folder.mkdir(parents=True, exist_ok=True)
    whole = folder / RULE_FILE
    whole.write_text(dump(rules), encoding="utf-8")
    common = {k: v for k, v in tests.items() if k not in ("rule_files", "tests")}
    groups = tests.get("tests") or []
    reads_alerts = any(
        "ALERTS" in str(r.get("expr", "")) for g in rules["groups"] for r in g.get("rules") or []
    )
    by_alert: dict[str, list[Any]] = {}
    rest: list[Any] = []
    for group in groups:
        names = {t.get("alertname") for t in group.get("alert_rule_test") or [] if isinstance(t, dict)}
        if reads_alerts or group.get("promql_expr_test") or len(names) != 1 or None in names:
            rest.append(group)
        else:
            by_alert.setdefault(str(next(iter(names))), []).append(group)
    buckets = []
    for name, tests_of in by_alert.items():
        kept = [
            {**g, "rules": [r for r in g.get("rules") or [] if "record" in r or r.get("alert") == name]}
            for g in rules["groups"]
        ]
        if not any(r.get("alert") == name for g in kept for r in g["rules"]):
            rest += tests_of  # a test of an alert the rules do not have: promtool says so on the whole file
            continue
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        buckets.append(
            _bucket(
                environment,
                safe,
                folder,
                {"groups": [g for g in kept if g["rules"]]},
                {**common, "tests": tests_of},
            )
        )
    if rest:
        buckets.append(
            Bucket(
                environment, "all", whole, _write_tests(folder / "all.test.yaml", whole.name, common, rest)
            )
        )
    return buckets


def _bucket(
    environment: str, name: str, folder: Path, rules: dict[str, Any], tests: dict[str, Any]
) -> Bucket:
    path = folder / f"{name}.rules.yaml"
    path.write_text(json.dumps(rules), encoding="utf-8")  # JSON is YAML, and quicker to write
    return Bucket(
        environment,
        name,
        path,
        _write_tests(
            folder / f"{name}.test.yaml",
            path.name,
            {k: v for k, v in tests.items() if k != "tests"},
            tests["tests"],
        ),
    )


def _write_tests(path: Path, rules_name: str, common: dict[str, Any], groups: list[Any]) -> Path:
    path.write_text(json.dumps({**common, "rule_files": [rules_name], "tests": groups}), encoding="utf-8")
    return path


# -- Alertmanager routing ----------------------------------------------------------------------
@dataclass
class RoutingCheck:
    status: str  # checked | failed | skipped | absent
    detail: str = ""


def check_routing(path: Path, folder: Path, service: str) -> RoutingCheck:
    from pipekit.clients import promtool
    from pipekit.core import yamlload

    if not path.is_file():
        return RoutingCheck("absent", f"no {path}")
    doc = yamlload.load(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("route"), dict):
        raise BadInput(f"{path}: expected a mapping with route and receivers (an Alertmanager snippet)")
    kinds = {
        k for r in doc.get("receivers") or [] if isinstance(r, dict) for k in r if k.endswith("_configs")
    }
    needed = max((routing.CONFIG_NEEDS.get(k, (0, 0, 0)) for k in kinds), default=(0, 0, 0))
    version = promtool.amtool_version()
    want = ".".join(map(str, needed))
    if version is None:
        return RoutingCheck(
            "skipped",
            f"amtool is not installed (Debian package prometheus-alertmanager, "
            f"or Alertmanager >= {want}'s release)",
        )
    if version < needed:
        return RoutingCheck(
            "skipped",
            f"amtool {'.'.join(map(str, version))} does not know "
            f"{', '.join(sorted(kinds))}: that needs Alertmanager >= {want}",
        )
    whole = folder / "alertmanager.yml"
    whole.write_text(dump(routing.checkable(doc)), encoding="utf-8")
    ok, detail = promtool.check_config(whole)
    if not ok:
        return RoutingCheck("failed", f"{path}: amtool check-config: {detail}")
    for severity in ("critical", "warning"):
        expected = routing.expected_receivers(doc, severity)
        ok, detail = promtool.routes_test(
            whole,
            {"service": service, "severity": severity, "environment": "prod", "alertname": "HighErrorRatio"},
            expected,
        )
        if not ok:
            return RoutingCheck(
                "failed",
                f"{path}: a {severity} alert of {service} goes to {detail or 'nothing'}, "
                f"not {', '.join(expected)}",
            )
    return RoutingCheck(
        "checked", f"amtool {'.'.join(map(str, version))}: check-config, critical and warning routes"
    )
