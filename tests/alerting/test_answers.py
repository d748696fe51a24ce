"""The alert answers in pipekit.yaml: written by init, read back, carried by --upgrade, refused when bad;
and the unit tests init generates pass real promtool for thresholds far from the defaults."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipekit.alerting import check, rules, settings
from pipekit.clients import promtool
from pipekit.core import config as config_mod
from pipekit.onboarding.render import TEMPLATES
from tests.steps.test_init import IMAGE, cli, init, make_repos, tree_hashes

ENVS = ("dev", "qa", "preprod", "prod")


@pytest.fixture
def onboarded(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    service, gitops, _bare = make_repos(tmp_path, git_repo, monkeypatch)
    assert init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE).status == "written"  # type: ignore[attr-defined]
    return service, gitops


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "error_ratio: {threshold: 0.05,",
            "error_ratio: {threshold: lots,",
            "alerts.rules.error_ratio.threshold: 'lots' is not of type 'number'",
        ),
        (
            "heap_usage: {threshold: 0.9, for: 15m}",
            "heap_usage: {threshold: 0.9, for: 15x}",
            "alerts.rules.heap_usage.for: '15x' is not a duration Prometheus can parse",
        ),
        (
            "    prod: critical",
            "    prod: urgent",
            "alerts.severity.prod: 'urgent' is not one of ['critical', 'warning', 'info']",
        ),
        (
            "      latency_p95: {for: 10m}",
            "      latency_p95: {for: 10 minutes}",
            "alerts.environments.prod.latency_p95.for: '10 minutes' is not a duration Prometheus can parse",
        ),
        (
            "error_ratio: {threshold: 0.05,",
            "error_ratio: {threshold: 1.5,",
            "1.5 is greater than or equal to the maximum of 1",
        ),
        (
            "errors_after_deploy: {threshold: 0.02, within: 15m, for: 2m}",
            "errors_after_deploy: {threshold: 0.02, within: 15m, for: 20m}",
            "alerts.rules.errors_after_deploy.for: 'for' (20m) must be shorter than 'within' (15m)",
        ),
    ],
)
def test_a_bad_answer_is_exit_2_naming_it_with_file_and_line(
    onboarded: tuple[Path, Path], old: str, new: str, message: str
) -> None:
    service, gitops = onboarded
    config = service / "pipekit.yaml"
    edit(config, old, new)
    before = tree_hashes(service, gitops)
    proc = cli(service, "--gitops-dir", str(gitops))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert f"pipekit.yaml:{line_of(config, new.strip())}: alerts." in proc.stderr, proc.stderr
    assert tree_hashes(service, gitops) == before  # nothing written


@pytest.mark.slow
def test_unknown_environment_and_runbook_placeholder_are_named(onboarded: tuple[Path, Path]) -> None:
    service, gitops = onboarded
    config = service / "pipekit.yaml"
    edit(config, "  environments:\n    prod:\n", "  environments:\n    staging:\n")
    proc = cli(service, "--gitops-dir", str(gitops))
    assert (
        proc.returncode == 2
        and f"pipekit.yaml:{line_of(config, 'staging:')}: alerts.environments.staging: "
        "unknown environment 'staging'"
        in proc.stderr
    ), proc.stderr
    edit(config, "    staging:\n", "    prod:\n")
    edit(config, "{alert_lower}", "{alert_name}")
    proc = cli(service, "--gitops-dir", str(gitops))
    assert proc.returncode == 2 and "alerts.runbook_url: unknown placeholder {alert_name}" in proc.stderr, (
        proc.stderr
    )


def test_the_section_init_writes_reads_back_as_the_defaults(tmp_path: Path) -> None:
    defaults = settings.defaults("orders", ENVS, "git@bitbucket.org:acme/gitops.git", "main")
    path = tmp_path / "pipekit.yaml"
    path.write_text("version: 1\nservice: orders\n" + settings.section_text(defaults))
    loaded = settings.load(path, "orders", ENVS, "git@bitbucket.org:acme/gitops.git", "main")
    assert loaded == defaults
    assert settings.section_text(loaded) == settings.section_text(defaults)
    cfg = config_mod.parse(path.read_text(), path)  # what every other step reads: the schema takes it
    assert cfg.get("alerts.rules.error_ratio.threshold") == 0.05
    assert settings.from_config(cfg, "orders", ENVS) == defaults
    assert defaults.runbook_url == (
        "https://bitbucket.org/acme/gitops/src/main/apps/orders/alerts/RUNBOOK.md"
        "#markdown-header-{alert_lower}"
    )
    assert settings.default_runbook("orders", "https://github.com/acme/gitops.git", "trunk") == (
        "https://github.com/acme/gitops/blob/trunk/apps/orders/alerts/RUNBOOK.md#{alert_lower}"
    )


@pytest.mark.slow
def test_upgrade_carries_the_thresholds_over(onboarded: tuple[Path, Path], tmp_path: Path) -> None:
    service, gitops = onboarded
    newer = tmp_path / "templates-0.2.0"
    shutil.copytree(TEMPLATES, newer)
    edit(newer / "gitops/deployment.yaml", "initialDelaySeconds: 30", "initialDelaySeconds: 45")
    config = service / "pipekit.yaml"
    edit(config, "heap_usage: {threshold: 0.9, for: 15m}", "heap_usage: {threshold: 0.8, for: 20m}")
    edit(config, "build:\n", "# our own note\nbuild:\n")  # an edit init did not make: plain init refuses
    refused = cli(service, "--gitops-dir", str(gitops))
    assert refused.returncode == 1 and "edited by hand, left alone: pipekit.yaml" in refused.stderr
    result = init(service, gitops_dir=gitops, upgrade=True, templates=newer, version="0.2.0")
    assert result.status == "written", result  # type: ignore[attr-defined]
    text = config.read_text()
    assert "# our own note" in text and "heap_usage: {threshold: 0.8, for: 20m}" in text
    base = (gitops / "apps/orders/base/prometheusrule.yaml").read_text()
    assert base.count("      for: 20m\n") == 1  # JvmHeapNearMax's, in the base: no environment changes it
    for env in ENVS:
        assert "  > 0.8\n" in (gitops / f"apps/orders/overlays/{env}/alerts-patch.yaml").read_text(), env
    assert "initialDelaySeconds: 45" in (gitops / "apps/orders/base/deployment.yaml").read_text()
    proc = subprocess.run(["promtool", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0


def test_disabled_alerts_write_nothing_of_them(
    tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, gitops, _bare = make_repos(tmp_path, git_repo, monkeypatch)
    (service / "pipekit.yaml").write_text("version: 1\nservice: orders\nalerts:\n  enabled: false\n")
    result = init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE, force=True)
    assert result.status == "written" and not result.problems, result  # type: ignore[attr-defined]
    assert not list(gitops.rglob("alerts-*.yaml")) and not (gitops / "apps/orders/alerts").exists()
    assert not (gitops / "apps/orders/base/prometheusrule.yaml").exists()
    assert "prometheusrule" not in (gitops / "apps/orders/base/kustomization.yaml").read_text()
    assert "patches" not in (gitops / "apps/orders/overlays/prod/kustomization.yaml").read_text()
    assert "enabled: false" in (service / "pipekit.yaml").read_text()


VARIANTS = {
    "strict": {
        "error_ratio": {"threshold": "0.001", "for": "1m"},
        "latency_p95": {"threshold": "0.05", "for": "30s"},
        "heap_usage": {"threshold": "0.5", "for": "0s"},
        "gc_pause": {"threshold": "0.02", "for": "1m"},
        "crash_looping": {"restarts": "1", "for": "0s"},
        "oom_killed": {"restarts": "3", "for": "2m"},
        "replicas_unavailable": {"for": "0s"},
        "rollout_stuck": {"for": "30s"},
        "image_pull_failing": {"for": "1m"},
        "argocd_out_of_sync": {"for": "0s"},
        "argocd_degraded": {"for": "45s"},
        "argocd_sync_failed": {"for": "5m"},
        "change_fail_rate": {"threshold": "0.01", "deployments": "1", "for": "0s"},
        "not_recovered": {"after": "10m", "for": "0s"},
        "errors_after_deploy": {"threshold": "0.5", "within": "30m", "for": "10m"},
        "restarts_after_deploy": {"restarts": "7", "within": "1h", "for": "3m"},
    },
    "lax": {
        "error_ratio": {"threshold": "0.6", "for": "30m"},
        "latency_p95": {"threshold": "7.5", "for": "1h"},
        "heap_usage": {"threshold": "0.99", "for": "45m"},
        "gc_pause": {"threshold": "3", "for": "20m"},
        "crash_looping": {"restarts": "15", "for": "30m"},
        "oom_killed": {"restarts": "1", "for": "5m"},
        "replicas_unavailable": {"for": "1h"},
        "change_fail_rate": {"threshold": "0.9", "deployments": "15"},
        "not_recovered": {"after": "1w", "for": "1h"},
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generated_unit_tests_pass_promtool_far_from_the_defaults(variant: str, tmp_path: Path) -> None:
    base = settings.defaults("orders", ("prod",), "git@bitbucket.org:acme/gitops.git")
    answers = settings.AlertSettings(
        **{
            **base.__dict__,
            "rules": {key: {**texts, **VARIANTS[variant].get(key, {})} for key, texts in base.rules.items()},
            "overrides": {},
        }
    )
    import yaml

    rule_text = rules.dump({"groups": rules.groups(answers, "prod", "orders-prod")})
    buckets = check.split(
        "prod",
        tmp_path,
        yaml.safe_load(rule_text),
        yaml.safe_load(rules.unit_tests(answers, "prod", "orders-prod")),
    )
    outcomes = promtool.finish_test_rules(
        promtool.start_test_rules([b.tests for b in buckets]), [b.tests for b in buckets]
    )
    failed = {b.name: o.detail for b, o in zip(buckets, outcomes, strict=True) if not o.ok}
    assert failed == {}
