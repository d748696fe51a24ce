"""`pipekit notify --push-gateway`: the deploy marker the after-deploy alerts read, pushed to a real
Prometheus Pushgateway (Debian's prometheus-pushgateway on 127.0.0.1), read back, and fed to the
generated ErrorsAfterDeploy rule under real promtool."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pipekit import notify
from pipekit.alerting import catalogue, rules, settings
from pipekit.core.errors import ExternalError
from pipekit.core.runrecord import RunRecord
from pipekit.testing.sink import WebhookSink
from tests.steps.test_notify import make_ctx, run_cli


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as s:
        yield s


@pytest.fixture
def pushgateway() -> Iterator[str]:
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway is missing: scripts/dev bootstrap installs it (Debian package)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every Pushgateway
    # started on the machine would share it. In memory only, this one holds this test's pushes.
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the pushgateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def deployed(tmp_path: Path, environment: str = "dev") -> None:
    record = RunRecord.load(tmp_path / "run.json")
    record.update_step(
        "update_tag",
        status="succeeded",
        outputs={
            "environment": environment,
            "service": "payments",
            "tag": "1.4.2-3f2a9c1",
            "status": "pushed",
            "digest": "sha256:" + "ab" * 32,
            "gitops_revision": "c0ffee" * 6 + "1234",
        },
    )
    record.save()


def markers(url: str) -> list[tuple[dict[str, str], float]]:
    served = requests.get(f"{url}/metrics", timeout=5).text
    return [
        (dict(s.labels), s.value)
        for f in text_string_to_metric_families(served)
        if f.name == "pipekit_deploy_timestamp_seconds"
        for s in f.samples
    ]


def test_a_deploy_pushes_its_time_and_tag(tmp_path: Path, sink: WebhookSink, pushgateway: str) -> None:
    deployed(tmp_path)
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")}
    before = time.time()
    result = notify.run(
        notify.NotifyOptions(event="succeeded", stage="deploy-dev", push_gateway=pushgateway),
        make_ctx(tmp_path, env),
    )
    assert (
        result.deploy_marker == f"{pushgateway}/metrics/job/pipekit_deploy/service/payments/environment/dev"
    )
    ((labels, value),) = markers(pushgateway)
    assert labels == {
        "job": "pipekit_deploy",
        "instance": "",
        "service": "payments",
        "environment": "dev",
        "tag": "1.4.2-3f2a9c1",
        "kind": "deploy",
    }
    assert before <= value <= time.time()

    # the series as Prometheus scrapes it (honor_labels) fires the generated ErrorsAfterDeploy rule
    answers = settings.defaults("payments", ("dev",))
    scope = catalogue.Scope("payments", "dev", "payments-dev")
    values = answers.values("errors_after_deploy", "dev")
    case = catalogue.errors_after_firing(scope, values)
    scraped = (
        "pipekit_deploy_timestamp_seconds{" + ", ".join(f'{k}="{v}"' for k, v in labels.items() if v) + "}"
    )
    case.series = [
        (
            scraped
            if name.startswith("pipekit_deploy_timestamp_seconds") and catalogue.TAG in name
            else name,
            samples,
        )
        for name, samples in case.series
        if not (name.startswith("pipekit_deploy_timestamp_seconds") and catalogue.OLD_TAG in name)
    ]
    (rule,) = [
        r
        for g in rules.groups(answers, "dev", "payments-dev")
        for r in g["rules"]
        if r["alert"] == "ErrorsAfterDeploy"
    ]
    folder = tmp_path / "promtool"
    folder.mkdir()
    (folder / "r.yaml").write_text(rules.dump({"groups": [{"name": "g", "rules": [rule]}]}))
    text = rules._test(rule, "fires on the scraped marker", case)
    (folder / "t.yaml").write_text(f"rule_files: [r.yaml]\nevaluation_interval: 1m\ntests:\n{text}")
    proc = subprocess.run(["promtool", "test", "rules", "t.yaml"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_promotion_and_a_rollback_push_theirs(tmp_path: Path, sink: WebhookSink, pushgateway: str) -> None:
    record = RunRecord.load(tmp_path / "run.json")
    record.update_step(
        "promote",
        status="succeeded",
        outputs={
            "from": "qa",
            "to": "preprod",
            "services": ["payments"],
            "status": "pushed",
            "images": {"payments": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:1.4.2-3f2a9c1"},
        },
    )
    record.save()
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "PIPEKIT_PUSHGATEWAY_URL": pushgateway}
    proc = run_cli(tmp_path, "--event", "auto", "--stage", "promote-preprod", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "deploy marker pushed: payments 1.4.2-3f2a9c1 in preprod" in proc.stdout + proc.stderr
    record.update_step(
        "rollback",
        status="succeeded",
        outputs={"service": "payments", "environment": "preprod", "status": "pushed", "tag": "1.4.1-9b0c4de"},
    )
    record.save()
    notify.run(
        notify.NotifyOptions(event="deployed", stage="rollback", push_gateway=pushgateway),
        make_ctx(tmp_path, {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")}),
    )
    ((labels, _value),) = markers(
        pushgateway
    )  # one group per service and environment: the latest replaces it
    assert (labels["environment"], labels["tag"], labels["kind"]) == ("preprod", "1.4.1-9b0c4de", "rollback")


def test_nothing_is_pushed_without_a_successful_deploy(
    tmp_path: Path, sink: WebhookSink, pushgateway: str
) -> None:
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")}
    result = notify.run(
        notify.NotifyOptions(event="succeeded", stage="build", push_gateway=pushgateway),
        make_ctx(tmp_path, env),
    )  # a build step: no deployment in the record
    assert result.deploy_marker is None
    deployed(tmp_path)
    proc = run_cli(
        tmp_path,
        "--event",
        "auto",
        "--stage",
        "deploy-dev",
        "--push-gateway",
        pushgateway,
        env={**env, "BITBUCKET_EXIT_CODE": "1"},
    )  # the deploy step failed (wait-for-argocd)
    assert proc.returncode == 0, proc.stderr
    assert markers(pushgateway) == []


@pytest.mark.slow
def test_an_unreachable_pushgateway_warns_or_fails_with_strict(tmp_path: Path, sink: WebhookSink) -> None:
    deployed(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams")}
    result = notify.run(
        notify.NotifyOptions(event="succeeded", stage="deploy-dev", push_gateway=gone, timeout=1),
        make_ctx(tmp_path, env),
    )
    assert result.deploy_marker is None and [d.status for d in result.deliveries] == ["sent"]
    with pytest.raises(ExternalError):
        notify.run(
            notify.NotifyOptions(
                event="succeeded", stage="deploy-dev-2", push_gateway=gone, timeout=1, strict=True
            ),
            make_ctx(tmp_path, env),
        )
