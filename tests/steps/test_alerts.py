"""`pipekit alerts` on what `pipekit init` writes: real kubectl kustomize, real promtool, real amtool.

Services are onboarded into real git repositories (a service repository, a GitOps checkout) by the
init library API; the alert rules are rendered with kubectl, validated against the
prometheus-operator CRD schema (the copy in ../shared/schemas), checked and unit-tested with
Debian's promtool, and the Alertmanager snippet checked with Debian's amtool (0.25: Slack yes,
Teams Workflows no).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipekit.alerting import catalogue
from pipekit.onboarding.lint import check_command_line
from tests.conftest import REPO_ROOT, SCHEMAS, load_schema
from tests.steps.test_init import IMAGE, init, kustomize, make_repos

ENVS = ("dev", "qa", "preprod", "prod")


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is missing: scripts/dev bootstrap installs it (Debian package)"
    return found


def alerts(*args: str, cwd: Path, module: str = "pipekit") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    argv = [sys.executable, "-m", module, *(["alerts"] if module == "pipekit" else []), *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def onboarded(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(service repository, GitOps checkout) with orders onboarded into dev, qa, preprod and prod."""
    service, gitops, _bare = make_repos(tmp_path, git_repo, monkeypatch)
    assert init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE).status == "written"  # type: ignore[attr-defined]
    return service, gitops


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_alerts_test_checks_and_unit_tests_every_environment(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    need("promtool")
    proc = alerts("test", "--gitops-dir", str(gitops), "--json", cwd=service)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "passed" and result["service"] == "orders"
    assert [e["environment"] for e in result["environments"]] == list(ENVS)
    for env in result["environments"]:
        assert (
            env["passed"]
            and env["rules"] == len(catalogue.ALERTS)
            and env["tests"] == 2 * len(catalogue.ALERTS)
        )
    # Debian's Alertmanager 0.25 does not know Teams Workflows: said, with the version it needs
    assert result["routing"] == "skipped" and "Alertmanager >= 0.28.0" in result["routing_detail"]


@pytest.mark.slow
def test_python_m_pipekit_alerts_is_the_same_command(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "prod", cwd=service, module="pipekit.alerts")
    assert proc.returncode == 0, proc.stderr
    assert "orders in prod: 16 rules checked, 32 tests passed" in proc.stderr + proc.stdout
    assert "in dev" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_the_library_api_gets_the_same_result(onboarded: tuple[Path, Path]) -> None:
    from pipekit.alerts import AlertsOptions, run
    from pipekit.core.step import StepContext

    service, gitops = onboarded
    ctx = StepContext.create(env=dict(os.environ), cwd=service)
    result = run(AlertsOptions(service="orders", gitops_dir=gitops, environments=["qa"]), ctx)
    assert result.status == "passed" and [(e.environment, e.rules, e.tests) for e in result.environments] == [
        ("qa", 16, 32)
    ]


@pytest.mark.slow
def test_rendered_rules_match_the_crd_schema_and_carry_the_labels(onboarded: tuple[Path, Path]) -> None:
    _service, gitops = onboarded
    validator = jsonschema.Draft7Validator(load_schema("prometheusrule-v1.schema.json"))
    shipped = REPO_ROOT / "pipekit/alerting/schema/prometheusrule-v1.schema.json"
    assert json.loads(shipped.read_text()) == load_schema("prometheusrule-v1.schema.json")
    assert (shipped.parent / "NOTICE.txt").is_file() and (shipped.parent / "LICENSE-Apache-2.0.txt").is_file()
    for env in ENVS:
        docs = kustomize(gitops / f"apps/orders/overlays/{env}")
        (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
        validator.validate(rule)
        assert rule["metadata"]["namespace"] == f"orders-{env}"
        monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
        assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/actuator/prometheus"}]
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        assert {
            "name": "MANAGEMENT_METRICS_DISTRIBUTION_PERCENTILESHISTOGRAM_HTTP_SERVER_REQUESTS",
            "value": "true",
        } in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
        assert [r["alert"] for r in rules] == [a.name for a in catalogue.ALERTS]
        for r in rules:
            assert r["labels"]["service"] == "orders" and r["labels"]["environment"] == env
            wanted = "warning" if r["alert"] == "DoraChangeFailRateHigh" or env != "prod" else "critical"
            assert r["labels"]["severity"] == wanted, (env, r["alert"])
            assert set(r["annotations"]) == {"summary", "description", "runbook_url"}
            assert "{{" in r["annotations"]["description"]  # the value (or the state) Prometheus fills in
            url = r["annotations"]["runbook_url"]  # the GitOps repository's web view (a Bitbucket host here)
            assert "/apps/orders/alerts/RUNBOOK.md#" in url and url.endswith(r["alert"].lower()), url
            if any(f'{key}="orders"' in r["expr"] for key in ("job", "container", "deployment")):
                assert f'namespace="orders-{env}"' in r["expr"]
        by_name = {r["alert"]: r for r in rules}
        threshold = "0.02" if env == "prod" else "0.05"
        assert by_name["HighErrorRatio"]["expr"].endswith(f"> {threshold}")
        assert by_name["ArgoCdAppDegraded"]["expr"].count(f'name="orders-{env}"') == 1
        assert (
            f"pipekit rollback --service orders --env {env}"
            in by_name["ErrorsAfterDeploy"]["annotations"]["description"]
        )
    runbook = (gitops / "apps/orders/alerts/RUNBOOK.md").read_text()
    assert all(f"## {a.name}" in runbook for a in catalogue.ALERTS)


@pytest.mark.slow
def test_another_service_and_environments_pass_too(
    tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, gitops, _bare = make_repos(tmp_path, git_repo, monkeypatch)
    init(
        service,
        service="billing",
        gitops_dir=gitops,
        image_repo="billing",
        environments=("dev", "prod"),
        namespace_template="team-a-{service}-{env}",
    )
    proc = alerts("test", "--gitops-dir", str(gitops), "--service", "billing", "--json", cwd=service)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [e["environment"] for e in json.loads(proc.stdout)["environments"]] == ["dev", "prod"]
    prod = (gitops / "apps/billing/overlays/prod/alerts-patch.yaml").read_text()
    assert 'namespace=\\"team-a-billing-prod\\"' in prod or 'namespace="team-a-billing-prod"' in prod


@pytest.mark.slow
def test_a_changed_threshold_regenerates_rules_and_tests(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    edit(
        service / "pipekit.yaml",
        "error_ratio: {threshold: 0.05, for: 10m}",
        "error_ratio: {threshold: 0.25, for: 3m}",
    )
    edit(
        service / "pipekit.yaml",
        "      latency_p95: {for: 10m}",
        "      latency_p95: {threshold: 0.3, for: 10m}",
    )
    result = init(service, gitops_dir=gitops)
    assert result.status == "written", result  # type: ignore[attr-defined]
    assert result.files["pipekit.yaml"] == "unchanged"  # type: ignore[attr-defined]  # written back as it is
    assert result.files["gitops:apps/orders/overlays/dev/alerts-test.yaml"] == "update"  # type: ignore[attr-defined]
    dev = (gitops / "apps/orders/overlays/dev/alerts-patch.yaml").read_text()
    assert "> 0.25" in dev
    prod = (gitops / "apps/orders/overlays/prod/alerts-patch.yaml").read_text()
    assert "> 0.02" in prod and "> 0.3" in prod  # prod keeps its own error ratio, gets the new latency
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "dev", "--env", "prod", cwd=service)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_threshold_edited_by_hand_in_the_rule_fails_its_tests(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    patch = gitops / "apps/orders/overlays/qa/alerts-patch.yaml"
    text = patch.read_text()
    assert text.count("\n      > 0.05\n") == 1  # HighErrorRatio's threshold in qa, as init wrote it
    patch.write_text(text.replace("\n      > 0.05\n", "\n      > 0.5\n"))
    proc = alerts("test", "--gitops-dir", str(gitops), "--json", cwd=service)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is False and "qa" in result["error"]
    (qa,) = [e for e in result["result"]["environments"] if e["environment"] == "qa"]
    assert not qa["passed"] and [f.split(":")[0] for f in qa["failures"]] == ["HighErrorRatio"]
    assert "alertname: HighErrorRatio" in qa["failures"][0] and "got:[]" in qa["failures"][0]
    assert all(e["passed"] for e in result["result"]["environments"] if e["environment"] != "qa")


@pytest.mark.slow
def test_a_rule_moved_in_the_base_fails_the_render(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    base = gitops / "apps/orders/base/prometheusrule.yaml"
    edit(base, "    - alert: PodCrashLooping", "    - alert: PodCrashLoopingRenamed")
    proc = alerts("test", "--gitops-dir", str(gitops), cwd=service)  # the joint render fails, each is tried
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "apps/orders/overlays/dev: kustomize cannot render the overlay" in proc.stderr
    assert "testing value /spec/groups/0/rules/0/alert failed" in proc.stderr


@pytest.mark.slow
def test_slack_routing_is_checked_with_amtool(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    need("amtool")
    edit(service / "pipekit.yaml", "    type: teams\n", "    type: slack\n")
    edit(
        service / "pipekit.yaml",
        "-webhook-url\n",
        '-webhook-url\n    channel: "#orders-oncall"\n    page_receiver: pagerduty-payments\n',
    )
    assert init(service, gitops_dir=gitops).status == "written"  # type: ignore[attr-defined]
    snippet = yaml.safe_load((gitops / "apps/orders/alerts/alertmanager.yaml").read_text())
    (receiver,) = snippet["receivers"]
    assert receiver["name"] == "orders-slack" and receiver["slack_configs"][0]["channel"] == "#orders-oncall"
    assert (
        receiver["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/orders-slack-webhook-url"
    )
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "prod", "--json", cwd=service)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["routing"] == "checked", result
    # a route to a receiver that does not exist: amtool says so, and the step fails
    path = gitops / "apps/orders/alerts/alertmanager.yaml"
    edit(path, "receiver: orders-slack\n", "receiver: orders-slak\n")
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "prod", cwd=service)
    assert proc.returncode == 1 and "amtool check-config" in proc.stderr and "orders-slak" in proc.stderr


@pytest.mark.slow
def test_render_prints_a_plain_rule_file_promtool_accepts(
    onboarded: tuple[Path, Path], tmp_path: Path
) -> None:
    service, gitops = onboarded
    proc = alerts("render", "--gitops-dir", str(gitops), "--env", "prod", cwd=service)
    assert proc.returncode == 0, proc.stderr
    rules = tmp_path / "prod.rules.yml"
    rules.write_text(proc.stdout)
    check = subprocess.run([need("promtool"), "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0 and "16 rules found" in check.stdout, check.stdout + check.stderr


def test_list_shows_thresholds_per_environment(onboarded: tuple[Path, Path]) -> None:
    service, _gitops = onboarded
    proc = alerts("list", "--json", cwd=service)
    assert proc.returncode == 0, proc.stderr
    lines = {line["alert"]: line for line in json.loads(proc.stdout)["alerts"]}
    assert lines["HighErrorRatio"]["environments"]["prod"] == {
        "severity": "critical",
        "for": "5m",
        "threshold": "0.02",
    }
    assert lines["HighErrorRatio"]["environments"]["dev"] == {
        "severity": "warning",
        "for": "10m",
        "threshold": "0.05",
    }


@pytest.mark.slow
def test_bad_input_is_exit_2(onboarded: tuple[Path, Path], tmp_path: Path) -> None:
    service, gitops = onboarded
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = alerts("test", "--gitops-dir", str(empty), cwd=service)
    assert proc.returncode == 2 and "no alert tests in" in proc.stderr
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "staging", cwd=service)
    assert proc.returncode == 2 and "--env staging: no " in proc.stderr
    proc = alerts("render", "--gitops-dir", str(gitops), cwd=service)
    assert proc.returncode == 2 and "needs one --env" in proc.stderr
    (gitops / "apps/orders/overlays/dev/alerts-test.yaml").write_text("tests: [\n")
    proc = alerts("test", "--gitops-dir", str(gitops), "--env", "dev", cwd=service)
    assert proc.returncode == 2 and "alerts-test.yaml:" in proc.stderr and "malformed YAML" in proc.stderr


@pytest.mark.slow
def test_a_missing_promtool_is_exit_2_naming_the_package(
    onboarded: tuple[Path, Path], tmp_path: Path
) -> None:
    service, gitops = onboarded
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(need("kubectl"))  # kubectl, but no promtool
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "BITBUCKET_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), PATH=str(bin_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit", "alerts", "test", "--gitops-dir", str(gitops)],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        proc.returncode == 2
        and "promtool not found on PATH: install Debian package prometheus" in proc.stderr
    )


def test_the_pipeline_lint_knows_the_subcommands_flags() -> None:
    assert check_command_line("pipekit alerts test --gitops-dir gitops --env prod --json") == []
    assert check_command_line("pipekit alerts render --env prod --nope") == [
        "'pipekit alerts render --nope': no such flag"
    ]


def test_the_shipped_schema_holds_the_catalogues_alerts_section() -> None:
    from pipekit.alerting.settings import schema_fragment

    shipped = json.loads((REPO_ROOT / "pipekit/core/schema/pipekit.schema.json").read_text())
    fragment = json.loads(json.dumps(schema_fragment()))
    alerts = dict(shipped["properties"]["alerts"])
    assert alerts.pop("description") and alerts == {
        k: v for k, v in fragment["properties"]["alerts"].items() if k != "description"
    }, "regenerate the schema: scripts/gen_schema.py"
    for name, definition in fragment["$defs"].items():
        assert shipped["$defs"][name] == definition


def test_every_alert_is_documented() -> None:
    docs = (REPO_ROOT / "docs/alerts.md").read_text()
    for alert in catalogue.ALERTS:
        assert f"`{alert.name}` | `{alert.key}` |" in docs, alert.name
        assert f"**{alert.name}**" in docs, alert.name


assert SCHEMAS  # the shared schemas the tests read
