"""``pipekit alerts``: the alert rules init writes for a service, checked and unit-tested.

- ``pipekit alerts test``: render every overlay of the service in a GitOps checkout, check each
  PrometheusRule (the CRD's schema, the labels and annotations every alert carries), run
  ``promtool check rules`` and ``promtool test rules`` with the overlay's ``alerts-test.yaml``,
  and ``amtool check-config`` on the Alertmanager snippet where the installed amtool knows its
  receiver. Exit 1 when a check or a test fails.
- ``pipekit alerts render --env ENV``: one environment's rules as a plain Prometheus rule file
  (for a Prometheus without the operator).
- ``pipekit alerts list``: every alert, the series it reads, and its thresholds per environment
  from ``pipekit.yaml``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, resolve, table_of
from pipekit.core.step import StepContext, step_command

__all__ = ["AlertsOptions", "AlertsTestResult", "list_alerts", "main", "options_from", "render", "run"]


def _answers_schema() -> dict[str, Any]:
    from pipekit.alerting.settings import option_schema

    return option_schema()


@dataclass(kw_only=True)
class AlertsOptions:
    service: str = option("", flag="--service", config="service", help="The service whose alerts to check.")
    gitops_dir: Path = option(
        Path("."),
        flag="--gitops-dir",
        metavar="DIR",
        help="A checkout of the GitOps repository [default: the current folder].",
    )
    environments: list[str] = option(
        flag="--env",
        metavar="ENV",
        help="Only this environment (repeatable) [default: every overlay with alerts].",
    )
    renderer: str = option(
        "kubectl kustomize {dir}",
        env="PIPEKIT_GITOPS_RENDERER",
        config="gitops.renderer",
        help="The command that renders an overlay ({dir} is its folder).",
    )
    answers: dict[str, Any] = option(
        config="alerts", schema=_answers_schema, help="The alert answers (pipekit.yaml alerts), for list."
    )


@dataclass
class EnvironmentResult:
    environment: str
    overlay: str
    rules: int
    tests: int
    passed: bool
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class AlertsTestResult:
    service: str
    status: str  # passed | failed
    environments: list[EnvironmentResult] = field(default_factory=list)
    routing: str = "absent"  # checked | failed | skipped | absent
    routing_detail: str = ""
    duration_s: float = 0.0


def _overlays(options: AlertsOptions) -> list[tuple[str, Path]]:
    from pipekit.alerting import layout, rules
    from pipekit.alerting.settings import KNOWN_ENVIRONMENTS

    if not options.gitops_dir.is_dir():
        raise BadInput(
            f"--gitops-dir {options.gitops_dir}: no such folder (a checkout of the GitOps repository)"
        )
    found = {
        p.parent.name: p.parent
        for p in options.gitops_dir.glob(f"{layout.overlay(options.service, '*')}/{rules.TESTS}")
    }
    if options.environments:
        missing = [e for e in options.environments if e not in found]
        if missing:
            where = options.gitops_dir / layout.overlay(options.service, missing[0]) / rules.TESTS
            raise BadInput(f"--env {missing[0]}: no {where} (run pipekit init for {options.service} first)")
        names = list(options.environments)
    else:
        names = sorted(
            found, key=lambda e: (KNOWN_ENVIRONMENTS.index(e) if e in KNOWN_ENVIRONMENTS else 99, e)
        )
    if not names:
        raise BadInput(
            f"no alert tests in {options.gitops_dir / layout.overlay(options.service, '*') / rules.TESTS}: "
            f"run pipekit init for {options.service} (with alerts.enabled) first"
        )
    return [(name, found[name]) for name in names]


def _render(options: AlertsOptions, overlays: list[tuple[str, Path]]) -> dict[str, list[Any]]:
    """Every overlay rendered: by one kustomize process when their namespaces tell their objects
    apart (kubectl's start-up is most of a render), else each alone, side by side, so that a
    failure names its overlay."""
    from pipekit.clients.kustomize import Renderer
    from pipekit.core import yamlload

    renderer = Renderer(options.renderer)
    if not renderer.enabled:
        raise BadInput(
            f"renderer {options.renderer!r}: pipekit alerts needs the overlays rendered "
            "(set gitops.renderer or PIPEKIT_GITOPS_RENDERER to kubectl kustomize {dir})"
        )
    joint = _render_jointly(renderer, overlays) if len(overlays) > 1 else None
    if joint is not None:
        return joint
    jobs = [(env, path, renderer.start(path)) for env, path in overlays]
    return {
        env: list(yamlload.load_all(renderer.finish(job, str(path)), f"the render of {path}"))
        for env, path, job in jobs
    }


def _render_jointly(renderer: Any, overlays: list[tuple[str, Path]]) -> dict[str, list[Any]] | None:
    import tempfile

    from pipekit.core import yamlload
    from pipekit.core.errors import PipekitError

    namespaces: dict[str, str] = {}
    for env, path in overlays:
        try:
            kustomization = yamlload.load(
                (path / "kustomization.yaml").read_text(encoding="utf-8"), str(path)
            )
        except (OSError, PipekitError):
            return None
        namespace = kustomization.get("namespace") if isinstance(kustomization, dict) else None
        if not isinstance(namespace, str) or namespace in namespaces:
            return None
        namespaces[namespace] = env
    with tempfile.TemporaryDirectory(prefix="pipekit-alerts-render-") as tmp:
        root = Path(tmp)
        links = []
        for i, (_env, path) in enumerate(overlays):
            (root / f"o{i}").symlink_to(
                path.resolve(), target_is_directory=True
            )  # kustomize takes relative paths only
            links.append(f"  - ../o{i}\n")
        (root / "all").mkdir()
        (root / "all" / "kustomization.yaml").write_text("resources:\n" + "".join(links), encoding="utf-8")
        try:
            docs = list(
                yamlload.load_all(renderer.render(root / "all", "the overlays"), "the overlays' render")
            )
        except PipekitError:
            return None
    out: dict[str, list[Any]] = {env: [] for env, _ in overlays}
    for doc in docs:
        owner = namespaces.get(str(((doc or {}).get("metadata") or {}).get("namespace") or ""))
        if owner is None:
            return None  # an object outside every overlay's namespace: render each alone to be sure
        out[owner].append(doc)
    return out


def run(options: AlertsOptions, ctx: StepContext) -> AlertsTestResult:
    """``pipekit alerts test``: the library API of the step's main subcommand."""
    import tempfile

    from pipekit.alerting import check, layout, routing
    from pipekit.clients import promtool
    from pipekit.core import yamlload

    started = time.monotonic()
    overlays = _overlays(options)
    rendered = _render(options, overlays)
    result = AlertsTestResult(service=options.service, status="passed")
    envs: dict[str, check.EnvironmentCheck] = {}
    with tempfile.TemporaryDirectory(prefix="pipekit-alerts-") as tmp:
        root = Path(tmp)
        buckets: list[check.Bucket] = []
        whole: list[tuple[str, Path]] = []
        found: dict[str, list[dict[str, Any]]] = {}
        for env, path in overlays:
            item = envs[env] = check.EnvironmentCheck(env, str(path))
            docs = found[env] = check.prometheus_rules(rendered[env])
            if not docs:
                item.problems.append(f"{path}: the rendered overlay has no PrometheusRule")
                continue
            rules = check.rule_file(docs)
            item.rules = sum(len(g.get("rules") or []) for g in rules["groups"])
            tests_path = path / "alerts-test.yaml"
            tests = yamlload.load(tests_path.read_text(encoding="utf-8"), str(tests_path))
            if not isinstance(tests, dict) or not isinstance(tests.get("tests"), list):
                raise BadInput(f"{tests_path}: expected promtool's unit test file (rule_files, tests)")
            item.tests = len(tests["tests"])
            mine = check.split(env, root / env, rules, tests)
            buckets += mine
            whole.append((env, root / env / "alerts.rules.yaml"))
        checking = promtool.start_check_rules([p for _, p in whole])
        halves = [buckets[0::2], buckets[1::2]]
        running = [(half, promtool.start_test_rules([b.tests for b in half])) for half in halves if half]
        for env, path in overlays:  # while promtool runs: the CRD's schema and the labels every alert carries
            for doc in found[env]:
                envs[env].problems += check.rule_problems(doc, str(path))
        for (env, _path), outcome in zip(
            whole, promtool.finish_check_rules(checking, [p for _, p in whole]), strict=True
        ):
            if not outcome.ok:
                envs[env].problems.append(f"promtool check rules ({env}): {outcome.detail}")
        for half, proc in running:
            for bucket, outcome in zip(
                half, promtool.finish_test_rules(proc, [b.tests for b in half]), strict=True
            ):
                if not outcome.ok:
                    envs[bucket.environment].failures.append(f"{bucket.name}: {outcome.detail}")
        routed = check.check_routing(
            options.gitops_dir / layout.alerts_dir(options.service) / routing.FILE, root, options.service
        )
    result.routing, result.routing_detail = routed.status, routed.detail
    result.environments = [
        EnvironmentResult(e.environment, e.overlay, e.rules, e.tests, e.passed, e.problems, e.failures)
        for e in envs.values()
    ]
    result.duration_s = round(time.monotonic() - started, 3)
    if not all(e.passed for e in result.environments) or routed.status == "failed":
        result.status = "failed"
    report(ctx, result)
    if result.status == "failed":
        bad = [e.environment for e in result.environments if not e.passed]
        what = (
            (f"alert checks failed in {', '.join(bad)}" if bad else "")
            + ("; " if bad and routed.status == "failed" else "")
            + ("the Alertmanager routing failed its check" if routed.status == "failed" else "")
        )
        raise CheckFailed(what, result=result)
    return result


def report(ctx: StepContext, result: AlertsTestResult) -> None:
    con = ctx.console
    for env in result.environments:
        if env.passed:
            con.success(
                f"{result.service} in {env.environment}: {env.rules} rules checked, {env.tests} tests passed"
            )
            continue
        for problem in env.problems:
            con.error(problem)
        for failure in env.failures:
            con.error(f"{result.service} in {env.environment}: promtool test rules failed for {failure}")
    if result.routing == "checked":
        con.success(f"Alertmanager routing: {result.routing_detail}")
    elif result.routing == "failed":
        con.error(result.routing_detail)
    elif result.routing == "skipped":
        con.warn(f"Alertmanager routing not checked: {result.routing_detail}")


@dataclass
class RenderResult:
    service: str
    environment: str
    rules: int
    out: str | None = None


def render(options: AlertsOptions, ctx: StepContext, out: Path | None = None) -> RenderResult:
    from pipekit.alerting import check
    from pipekit.alerting.rules import dump

    if len(options.environments) != 1:
        raise BadInput("pipekit alerts render needs one --env: the environment whose rules to print")
    overlays = _overlays(options)
    docs = check.prometheus_rules(_render(options, overlays)[overlays[0][0]])
    if not docs:
        raise CheckFailed(f"{overlays[0][1]}: the rendered overlay has no PrometheusRule")
    rules = check.rule_file(docs)
    text = dump(rules)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    elif not ctx.console.json_mode:
        sys.stdout.write(text)
    return RenderResult(
        options.service,
        overlays[0][0],
        sum(len(g["rules"]) for g in rules["groups"]),
        str(out) if out else None,
    )


@dataclass
class AlertLine:
    alert: str
    answer: str
    group: str
    series: list[str]
    environments: dict[str, dict[str, str]]  # env -> severity, for, thresholds


@dataclass
class ListResult:
    service: str
    alerts: list[AlertLine]


def list_alerts(options: AlertsOptions, ctx: StepContext) -> ListResult:
    from pipekit.alerting import catalogue, promql, settings

    envs = tuple(ctx.config.get("environments") or ()) or settings.KNOWN_ENVIRONMENTS
    answers = settings.from_config(ctx.config, options.service, tuple(envs))
    lines = []
    for alert in catalogue.ALERTS:
        per_env = {}
        for env in envs:
            values = answers.values(alert.key, env)
            per_env[env] = {
                "severity": answers.severity_of(alert.key, env),
                "for": promql.duration(values.for_s),
                **{p.name: values.text[p.name] for p in alert.params},
            }
        lines.append(AlertLine(alert.name, alert.key, alert.group, list(alert.series), per_env))
    con = ctx.console
    for line in lines:
        con.print(f"{line.alert} ({line.group}: {', '.join(line.series)})")
        for env, shown in line.environments.items():
            con.print(f"  {env:<8} " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    return ListResult(options.service, lines)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> AlertsOptions:
    options = resolve(AlertsOptions, ctx, flags).options
    options = replace(options, service=options.service or ctx.service or "")
    if not options.service:
        raise BadInput("no service: pass --service NAME (or set service in pipekit.yaml)")
    return options


@step_command(
    "test",
    AlertsOptions,
    help="Check and unit-test the service's alert rules (promtool, amtool) in every overlay.",
)
def cmd_test(ctx: StepContext, flags: dict[str, Any]) -> AlertsTestResult:
    return run(options_from(ctx, flags), ctx)


@step_command("render", AlertsOptions, help="Print one environment's alert rules as a Prometheus rule file.")
def cmd_render(ctx: StepContext, flags: dict[str, Any]) -> RenderResult:
    return render(options_from(ctx, flags), ctx)


@step_command("list", AlertsOptions, help="List the alerts, their series and thresholds per environment.")
def cmd_list(ctx: StepContext, flags: dict[str, Any]) -> ListResult:
    return list_alerts(options_from(ctx, flags), ctx)


@click.group("alerts", context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The alert rules init writes for a service: test (promtool, amtool), render, list."""


for _command in (cmd_test, cmd_render, cmd_list):
    main.add_command(_command)
main.option_table = table_of(AlertsOptions)  # type: ignore[attr-defined]  # what the docs check reads

if __name__ == "__main__":
    main()
