"""`pipekit rehearse --config FILE`: the user's own pipekit.yaml (environments, rules, gates, Jira
settings, channels, scan policy) rehearsed with every outside system still a local stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput
from pipekit.rehearsal import settings
from pipekit.testing.sink import WebhookSink
from tests.test_rehearse import git, run_rehearse

USER_CONFIG = """\
# the orders team's pipekit.yaml, as it is in their repository
version: 1
service: orders
build:
  project_dir: services/orders
  image: {name: orders}
ecr:
  repository: acme/orders
  registry_id: "987654321098"
gitops:
  repo: https://bitbucket.org/acme/gitops.git
  overlay: "{service}/overlays/{env}"
argocd:
  server: argocd.acme.example
  apps: {dev: orders-dev, qa: orders-qa, prod: orders-prod}
scan:
  fail_on: high
  reports: [/builds/acme/orders/trivy.json]
environments:
  dev: {}
  qa:
    promotion: gated
    gates: [jira]
  prod:
    promotion: manual
    overlay: prod/orders
jira:
  project: ORD
  base_url: https://acme.atlassian.net
  require: unreleased
  allowed_statuses: [Done, Released to QA]
notify:
  channels:
    - name: orders-team
      type: teams
      webhook_env: ORDERS_TEAMS_WEBHOOK
    - name: release-alerts
      type: slack
      webhook_env: RELEASE_SLACK_WEBHOOK
      events: [failed, promoted]
"""


def test_merge_keeps_what_is_rehearsed_and_replaces_the_outside_world(tmp_path: Path) -> None:
    path = tmp_path / "pipekit.yaml"
    path.write_text(USER_CONFIG)
    base = settings.read_base(path)
    local = settings.overrides(tmp_path, "demo-service", tmp_path / "demo-service", container_tool="buildah",
                               image_repo="123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-service",
                               environments=("dev", "qa", "prod"), scan={"reports": ["/bundled.json"]})
    merged = settings.merge(base, local, str(path))
    data = merged.data
    assert merged.environments == ["dev", "qa", "prod"]
    assert data["environments"]["qa"] == {"promotion": "gated", "gates": ["jira"]}
    assert data["environments"]["prod"] == {"promotion": "manual"}, "the user's overlay path is init's now"
    assert data["jira"] == {"project": "ORD", "require": "unreleased", "allowed_statuses": ["Done", "Released to QA"]}
    assert [c["name"] for c in data["notify"]["channels"]] == ["orders-team", "release-alerts"]
    assert data["scan"] == {"fail_on": "high", "reports": ["/bundled.json"]}
    assert data["gitops"]["repo"] == str(tmp_path / "gitops.git") and "server" not in data["argocd"]
    assert data["ecr"] == local["ecr"] and data["service"] == "demo-service"
    assert merged.replaced == ["argocd", "build", "ecr", "environments.prod.overlay", "gitops", "jira.base_url",
                               "scan.reports", "service"]
    assert merged.defaulted == []
    text = merged.text()
    assert text.startswith(f"# pipekit rehearse: the settings of {path}, pointed at local stand-ins.\n")
    settings.write(merged, tmp_path / "merged.yaml")  # what every step will read parses as pipekit.yaml

    # a jira gate without a jira section gets the rehearsal's project; nothing else is invented
    lean = settings.merge({"environments": {"dev": {}, "qa": {"promotion": "gated", "gates": ["jira"]}}}, local, "x")
    assert lean.data["jira"]["project"] == "DEMO" and lean.defaulted == [
        "jira.project", "jira.require", "jira.allowed_statuses"]
    assert "jira" not in settings.merge({"environments": {"dev": {}, "prod": {"promotion": "manual"}}}, local, "x").data


@pytest.mark.slow
def test_the_users_environments_gates_and_channels_are_rehearsed(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(USER_CONFIG)
    with WebhookSink() as real:  # the variables the user's channels name, set to "real" webhooks here
        proc = run_rehearse(tmp_path, "--config", "orders.yaml", "--keep", "--workdir", "work", extra_env={
            "ORDERS_TEAMS_WEBHOOK": real.url("teams"), "RELEASE_SLACK_WEBHOOK": real.url("slack")})
        assert real.requests == [], "a channel's real webhook must never be used"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out, work = proc.stdout, tmp_path / "work"
    assert "settings of orders.yaml: environments dev, qa, prod; replaced for the local stand-ins: argocd, build, " in out

    # the user's chain: dev -> qa through their Jira project, prod manual (refused first), no preprod
    stages = re.findall(r"^(promote_\w+)\s+succeeded", out, re.M)
    assert stages == ["promote_qa", "promote_prod"]
    record = json.loads((work / "run.json").read_text())["steps"]
    gate = record["jira_gate"]["outputs"]
    assert (gate["passed"], gate["project"], gate["issues"]) == (True, "ORD", 2)
    assert "refused as it must be: promotion qa -> prod refused by rule 'manual'" in out
    bare = work / "gitops.git"
    tree = git("ls-tree", "-r", "--name-only", "main", "apps/demo-service/overlays", cwd=bare).splitlines()
    assert sorted({p.split("/")[3] for p in tree}) == ["dev", "prod", "qa"], "init onboarded the user's environments"
    log = git("log", "--format=%s", "main", cwd=bare).splitlines()
    assert log[:3] == [f"promote qa -> prod: demo-service {record['build']['outputs']['tags'][0]}",
                       f"promote dev -> qa: demo-service {record['build']['outputs']['tags'][0]}",
                       f"demo-service: dev pending -> {record['build']['outputs']['tags'][0]}"], log

    # the user's channels, each at the sink under its own name; the slack one only for its events
    cards = sorted(p.name for p in (work / "cards").glob("*.json"))
    teams = [c for c in cards if c.endswith(".orders-team.teams.json")]
    slack = [c for c in cards if c.endswith(".release-alerts.slack.json")]
    assert len(teams) == len(cards) - len(slack) == 10, cards  # started, 8 stages, summary
    assert [c.split("-", 1)[1] for c in slack] == ["promoted-promote_qa.release-alerts.slack.json",
                                                  "promoted-promote_prod.release-alerts.slack.json"], slack
    used = (work / "pipekit.yaml").read_text()
    assert "ORDERS_TEAMS_WEBHOOK" in used and "https://bitbucket.org/acme/gitops.git" not in used


@pytest.mark.slow
def test_a_config_naming_an_environment_init_cannot_onboard_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "staging.yaml").write_text("environments:\n  dev: {}\n  staging: {promotion: manual}\n")
    proc = run_rehearse(tmp_path, "--config", "staging.yaml", "--stages", "scan")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("--config staging.yaml: environments: unknown environment 'staging' (known: "
            "dev,qa,preprod,prod)") in proc.stderr

    (tmp_path / "broken.yaml").write_text("environments:\n  dev: {\n")
    proc = run_rehearse(tmp_path, "--config", "broken.yaml", "--stages", "scan")
    assert proc.returncode == 2 and "broken.yaml:" in proc.stderr, proc.stderr

    (tmp_path / "ungated.yaml").write_text("environments:\n  dev: {}\n  prod: {promotion: manual}\n")
    proc = run_rehearse(tmp_path, "--config", "ungated.yaml", "--fail-at", "gate")
    assert proc.returncode == 2
    assert "--fail-at gate: no environment of ungated.yaml has a jira gate to fail" in proc.stderr


def test_read_base_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"^--config .*nothere.yaml: no such file$"):
        settings.read_base(tmp_path / "nothere.yaml")


@pytest.mark.slow
def test_maven_runs_offline_only_when_the_local_repository_holds_the_samples_plugins(tmp_path: Path) -> None:
    from pipekit.rehearsal.workspace import missing_maven_artifacts

    home = tmp_path / "home"
    every = missing_maven_artifacts(home)
    assert "maven-surefire-plugin:3.2.5" in every and "junit-jupiter:5.10.2" in every and len(every) == 7
    for coordinate in every[1:]:  # all but the clean plugin, as Maven lays them out
        artifact, version = coordinate.split(":")
        group = "org/junit/jupiter" if artifact == "junit-jupiter" else "org/apache/maven/plugins"
        folder = home / ".m2/repository" / group / artifact / version
        folder.mkdir(parents=True)
        (folder / f"{artifact}-{version}.pom").write_text("<project/>")
    assert missing_maven_artifacts(home) == ["maven-clean-plugin:3.4.0"]

    # a machine without them (the base image): the rehearsal's build goes online, and says so (here
    # Maven Central is out of reach, so the build then fails naming it; where it is reachable, it builds)
    proc = run_rehearse(tmp_path, "--stages", "build", "--keep", "--workdir", "w", "--channel", "teams",
                        extra_env={"HOME": str(home)})
    assert "WARNING: Maven's local repository lacks the sample's maven-clean-plugin:3.4.0: the build runs online" in (
        proc.stdout + proc.stderr)
    assert "offline: false" in (tmp_path / "w" / "pipekit.yaml").read_text()
    assert proc.returncode == 0 or "repo.maven.apache.org" in proc.stdout + proc.stderr, proc.stdout[-2000:]


@pytest.mark.slow
def test_channel_keeps_only_the_configured_channels_of_that_type(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(USER_CONFIG)
    proc = run_rehearse(tmp_path, "--config", "orders.yaml", "--stages", "scan", "--channel", "teams", "--keep",
                        "--workdir", "w")
    assert proc.returncode == 0, proc.stderr
    used = (tmp_path / "w" / "pipekit.yaml").read_text()
    assert "orders-team" in used and "release-alerts" not in used
    assert sorted(p.name.split(".", 1)[1] for p in (tmp_path / "w" / "cards").glob("*.json")) == [
        "orders-team.teams.json"] * 3

    (tmp_path / "teams-only.yaml").write_text(
        "notify:\n  channels:\n    - {name: team, type: teams, webhook_env: TEAM_HOOK}\n")
    proc = run_rehearse(tmp_path, "--config", "teams-only.yaml", "--stages", "scan", "--channel", "slack")
    assert proc.returncode == 2
    assert "--channel slack: teams-only.yaml configures no channel of that type (notify.channels: team)" in proc.stderr
