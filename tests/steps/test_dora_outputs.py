"""The DORA report's outputs checked by real parts: headless Chromium, prometheus_client's text
parser, a real Pushgateway, promtool."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT, run_pipekit
from tests.fixtures.gitops.history import History, at

RANGE = ("--since", "2026-11-02", "--until", "2026-11-22")


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is missing: scripts/dev bootstrap installs it (Debian package)"
    return found


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = History(tmp_path_factory.mktemp("out"), ["orders", "billing"])
    for day in range(0, 20, 2):
        h.deploy("orders", "prod", f"o{day}", at(day), source_at=at(day, -5), build=day + 1)
        h.deploy("billing", "prod", f"b{day}", at(day, 3), source_at=at(day, -30), build=day + 1)
    bad = h.deploy("orders", "prod", "o-bad", at(15), source_at=at(14), build=99)
    h.revert(bad, at(15, 1))
    return h.push()


def chromium(tmp: Path, page: Path, shot: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        need("chromium"),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,1800",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.slow
def test_html_report_renders_in_chromium_without_console_errors(bare: Path, tmp_path: Path) -> None:
    page = tmp_path / "dora.html"
    proc = run_pipekit("dora", "--gitops-repo", str(bare), *RANGE, "--format", "html", "--out", str(page))
    assert proc.returncode == 0, proc.stderr
    html = page.read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)  # self-contained
    assert html.count("<svg") == 6 * 3  # six weekly trends: every service together, orders, billing
    # the detector is real: a page that logs an error is caught the same way
    noisy = tmp_path / "noisy.html"
    noisy.write_text("<html><body><script>console.error('boom')</script></body></html>")
    assert console_errors(chromium(tmp_path, noisy, tmp_path / "noisy.png").stderr)
    shot = tmp_path / "dora.png"
    run = chromium(tmp_path, page, shot)
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    assert shot.stat().st_size > 10_000
    keep = REPO_ROOT / ".pytest_artifacts"
    keep.mkdir(exist_ok=True)
    shutil.copy(shot, keep / "dora-report.png")


@pytest.mark.slow
def test_prometheus_text_parses_and_is_accepted_by_promtool(bare: Path) -> None:
    proc = run_pipekit("dora", "--gitops-repo", str(bare), *RANGE, "--format", "prometheus")
    assert proc.returncode == 0, proc.stderr
    families = {f.name: f for f in text_string_to_metric_families(proc.stdout)}
    deployments = {s.labels["service"]: s.value for s in families["pipekit_dora_deployments"].samples}
    assert deployments == {"all": 22, "orders": 12, "billing": 10}
    cfr = {s.labels["service"]: s.value for s in families["pipekit_dora_change_fail_rate"].samples}
    assert cfr["orders"] == pytest.approx(1 / 12) and cfr["billing"] == 0
    lead = {s.labels["service"]: s.value for s in families["pipekit_dora_lead_time_median_seconds"].samples}
    assert lead["billing"] == 33 * 3600 and lead["orders"] == 5 * 3600
    check = subprocess.run(
        [need("promtool"), "check", "metrics"], input=proc.stdout, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_alert_rules_pass_promtool() -> None:
    rules = REPO_ROOT / "docs" / "alerts" / "dora.rules.yml"
    check = subprocess.run([need("promtool"), "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "4 rules found" in check.stdout


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [need("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}"],
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


@pytest.mark.slow
def test_push_to_a_real_pushgateway_and_read_back(bare: Path, pushgateway: str) -> None:
    proc = run_pipekit(
        "dora",
        "--gitops-repo",
        str(bare),
        *RANGE,
        "--format",
        "json",
        "--json",
        "--push-gateway",
        pushgateway,
    )
    assert proc.returncode == 0, proc.stderr
    served = requests.get(f"{pushgateway}/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(served)}
    samples = [
        s for s in families["pipekit_dora_deployments"].samples if s.labels.get("job") == "pipekit_dora"
    ]
    assert {s.labels["service"]: s.value for s in samples} == {"all": 22, "orders": 12, "billing": 10}
    # a second push replaces the group (PUT), it does not add to it
    again = run_pipekit(
        "dora",
        "--gitops-repo",
        str(bare),
        *RANGE,
        "--service",
        "billing",
        "--json",
        "--push-gateway",
        pushgateway,
    )
    assert again.returncode == 0, again.stderr
    served = requests.get(f"{pushgateway}/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(served)}
    samples = [
        s for s in families["pipekit_dora_deployments"].samples if s.labels.get("job") == "pipekit_dora"
    ]
    assert {s.labels["service"]: s.value for s in samples} == {"all": 10, "billing": 10}
