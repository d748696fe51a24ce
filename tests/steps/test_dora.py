"""pipekit dora over real GitOps histories with known answers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import run_pipekit
from tests.fixtures.gitops.history import History, at

HOUR = 3600.0


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Two weeks of prod (and a dev deploy) with a revert, an incident, a promotion and a rollback."""
    h = History(tmp_path_factory.mktemp("dora"), ["orders", "billing", "payments"])
    c: dict[str, str] = {}
    c["v1"] = h.deploy("orders", "prod", "v1", at(0), source_at=at(0, -2), build=1)
    h.deploy("billing", "dev", "b1", at(0, 1), source_at=at(0))
    c["v2"] = h.deploy("orders", "prod", "v2", at(1), source_at=at(1, -4), build=2)
    c["revert"] = h.revert(c["v2"], at(1, 0.5))
    c["hand"] = h.by_hand("billing", "prod", "b9", at(2))
    h.touch("billing", "prod", at(3))  # replicas only: no deployment
    c["promo"] = h.promote("preprod", "prod", {"orders": "v3", "payments": "p1"}, at(7), source_at=at(6))
    c["p2"] = h.deploy("payments", "prod", "p2", at(8), source_at=at(8, -1), build=5)
    c["p3"] = h.deploy("payments", "prod", "p3", at(8, 4), source_at=at(8, 3), build=6)
    c["rollback"] = h.deploy("orders", "prod", "v1", at(9), rollback_of=c["promo"], build=7)
    return h.push(), c


def incidents(tmp: Path) -> Path:
    file = tmp / "incidents.csv"
    file.write_text(
        "opened,resolved,service,environment,cause_commit,cause_image\n"
        f"{at(8, 2).isoformat()},{at(8, 5).isoformat()},payments,prod,,\n"
    )
    return file


def dora(bare: Path, *args: str) -> dict:
    proc = run_pipekit(
        "dora", "--gitops-repo", str(bare), "--since", "2026-11-02", "--until", "2026-11-15", "--json", *args
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_known_answers(known: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bare, _ = known
    result = dora(bare, "--incidents", str(incidents(tmp_path)))
    assert result["status"] == "measured" and result["deployments"] == 9
    m = result["report"]["overall"]
    assert (m["deployments"], m["deployment_days"]) == (9, 6)
    assert m["deployments_per_week"] == pytest.approx(4.5)
    assert m["median_deployment_days_per_week"] == 3
    assert m["lead_time_samples"] == 6
    assert m["lead_time_median_s"] == pytest.approx(3 * HOUR)  # of 1h 1h 2h 4h 24h 24h
    assert m["lead_time_p90_s"] == pytest.approx(24 * HOUR)
    assert m["failed_deployments"] == 3  # the reverted v2, p2 (incident), the promoted v3 (rolled back)
    assert m["change_fail_rate"] == pytest.approx(3 / 9)
    assert m["recoveries"] == 3 and m["recovery_median_s"] == pytest.approx(3 * HOUR)  # 30m, 3h, 2d
    assert m["rework_deployments"] == 3 and m["rework_rate"] == pytest.approx(3 / 9)  # revert, p3, rollback
    assert m["levels"] == {
        "deployment_frequency": "elite",
        "lead_time": "elite",
        "change_fail_rate": "low",
        "recovery_time": "high",
        "rework_rate": "n/a",
    }
    assert [(w["week"], w["deployments"], w["deployment_days"]) for w in m["weeks"]] == [
        ("2026-11-02", 4, 3),
        ("2026-11-09", 5, 3),
    ]
    services = {s["scope"]: s for s in result["report"]["services"]}
    assert sorted(services) == ["billing", "orders", "payments"]
    assert (services["orders"]["deployments"], services["orders"]["failed_deployments"]) == (5, 2)
    assert (services["payments"]["deployments"], services["payments"]["failed_deployments"]) == (3, 1)
    assert services["billing"]["deployments"] == 1 and services["billing"]["lead_time_median_s"] is None


@pytest.mark.slow
def test_without_incidents_only_rollbacks_and_reverts_fail(known: tuple[Path, dict[str, str]]) -> None:
    m = dora(known[0])["report"]["overall"]
    assert m["failed_deployments"] == 2 and m["rework_deployments"] == 2
    assert m["recovery_median_s"] == pytest.approx((0.5 * HOUR + 48 * HOUR) / 2)


def test_env_and_service_filters(known: tuple[Path, dict[str, str]]) -> None:
    dev = dora(known[0], "--env", "dev")
    assert dev["deployments"] == 1 and dev["report"]["services"][0]["scope"] == "billing"
    orders = dora(known[0], "--service", "orders", "--service", "billing")
    assert orders["deployments"] == 6
    assert [s["scope"] for s in orders["report"]["services"]] == ["billing", "orders"]


def test_incident_by_cause_commit_and_image(known: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bare, c = known
    file = tmp_path / "incidents.json"
    file.write_text(
        json.dumps(
            [
                {
                    "opened": at(2, 5).isoformat(),
                    "resolved": at(2, 6).isoformat(),
                    "service": "billing",
                    "environment": "prod",
                    "cause_commit": c["hand"][:10],
                },
                {
                    "opened": at(8, 6).isoformat(),
                    "resolved": at(8, 7).isoformat(),
                    "service": "payments",
                    "environment": "prod",
                    "cause_image": "p1",
                },
            ]
        )
    )
    m = dora(bare, "--incidents", str(file))["report"]
    services = {s["scope"]: s for s in m["services"]}
    assert services["billing"]["failed_deployments"] == 1 and services["billing"]["recovery_median_s"] == HOUR
    assert services["payments"]["failed_deployments"] == 1  # p1, named by its image


def test_csv_and_table_formats(known: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    proc = run_pipekit(
        "dora",
        "--gitops-repo",
        str(known[0]),
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-15",
        "--format",
        "csv",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    total = next(r for r in rows if r["scope"] == "all" and r["week"] == "total")
    assert (
        total["deployments"] == "9" and total["change_fail_rate_level"] == "high"
    )  # 2/9 = 22%: nearest is 20% (high)
    table = run_pipekit(
        "dora", "--gitops-repo", str(known[0]), "--since", "2026-11-02", "--until", "2026-11-15"
    )
    assert (
        table.returncode == 0 and "Change lead time (median)" in table.stdout and "== orders" in table.stdout
    )


def test_empty_range_is_exit_0(known: tuple[Path, dict[str, str]]) -> None:
    proc = run_pipekit(
        "dora", "--gitops-repo", str(known[0]), "--since", "2025-01-01", "--until", "2025-02-01"
    )
    assert proc.returncode == 0, proc.stderr
    assert "no deployments in range" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [["--since", "2026-11-10", "--until", "2026-11-01"], ["--since", "yesterday"], ["--until", "2026-13-01"]],
)
def test_bad_dates_are_exit_2(known: tuple[Path, dict[str, str]], args: list[str]) -> None:
    proc = run_pipekit("dora", "--gitops-repo", str(known[0]), *args)
    assert proc.returncode == 2, proc.stderr
    assert "--since" in proc.stderr or "--until" in proc.stderr


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            "opened,resolved,service,environment\n2026-11-03T10:00:00Z,2026-11-03T11:00:00Z,orders,prod\n"
            "2026-11-04T10:00:00Z,soon,orders,prod\n",
            "i.csv",
            "row 3: field 'resolved' is not an ISO 8601 time",
        ),
        (
            "opened,resolved,service,environment\n2026-11-03T10:00:00Z,,,prod\n",
            "i.csv",
            "row 2: field 'service' is empty",
        ),
        (
            '[{"opened": "2026-11-03T10:00:00Z", "service": "a", "environment": "prod"}, {"service": "b"}]',
            "i.json",
            "incident 1: field 'opened' is empty",
        ),
        ("opened,service\n", "i.csv", "the header has no column 'environment'"),
    ],
)
def test_bad_incident_rows_are_exit_2(
    known: tuple[Path, dict[str, str]], tmp_path: Path, text: str, name: str, expected: str
) -> None:
    file = tmp_path / name
    file.write_text(text)
    proc = run_pipekit("dora", "--gitops-repo", str(known[0]), "--incidents", str(file))
    assert proc.returncode == 2
    assert expected in proc.stderr and str(file) in proc.stderr


@pytest.mark.slow
def test_remote_repository_is_read_through_a_partial_clone(known: tuple[Path, dict[str, str]]) -> None:
    result = dora(known[0])
    via_url = run_pipekit(
        "dora",
        "--gitops-repo",
        f"file://{known[0]}",
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-15",
        "--json",
    )
    assert via_url.returncode == 0, via_url.stderr
    assert json.loads(via_url.stdout)["report"]["overall"] == result["report"]["overall"]
