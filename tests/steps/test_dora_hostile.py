"""dora and history against hostile ranges and inputs (issue 23, items 11, 13, 17).

Work and output follow the deployments found, not the calendar span; limits that do not fit are
bad input; a spreadsheet never receives a live formula; odd incidents files are exit 2.
"""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipekit.core.errors import BadInput
from pipekit.deployments import incidents
from pipekit.deployments.dora import Collector, median_with_zeros, months_between, weeks_between
from pipekit.deployments.model import Deployment
from pipekit.deployments.report import DoraReport
from pipekit.deployments.writers import writer
from tests.conftest import run_pipekit
from tests.fixtures.gitops.history import History, at


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = History(tmp_path_factory.mktemp("dora"), ["orders", "billing"])
    for day in range(0, 30, 3):
        h.deploy("orders", "prod", f"v{day}", at(day), source_at=at(day, -2))
        h.deploy("billing", "prod", f"b{day}", at(day, 1))
    return h.push()


@pytest.mark.slow
def test_a_calendar_span_of_seven_millennia_costs_what_the_deployments_cost(
    bare: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    out = tmp_path / "report.html"
    proc = run_pipekit(
        "dora",
        "--gitops-repo",
        str(bare),
        "--since",
        "1900-01-01",
        "--until",
        "9000-12-31",
        "--format",
        "html",
        "--out",
        str(out),
        "--json",
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["deployments"] == 20
    assert out.stat().st_size < 300_000, out.stat().st_size  # was 149 MB
    assert took < 10, f"{took:.1f} s (was 27 s)"
    weeks = json.loads(proc.stdout)["report"]["overall"]["weeks"]
    assert [w["deployments"] for w in weeks] == [6, 4, 4, 6]  # only the weeks that had deployments


def test_the_widest_dates_are_a_report_not_a_crash(bare: Path) -> None:
    proc = run_pipekit(
        "dora",
        "--gitops-repo",
        str(bare),
        "--since",
        "0001-01-01",
        "--until",
        "9999-12-31",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["overall"]["deployments"] == 20


def test_arithmetic_weeks_and_months_agree_with_counting_every_day() -> None:
    rng = random.Random(23)
    for _ in range(200):
        since = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        until = since + timedelta(days=rng.randrange(1, 900))
        monday = since - timedelta(days=since.weekday())
        dense_weeks = len(range(0, (until - monday).days, 7)) if until > monday else 0
        assert weeks_between(since, until) == dense_weeks
        months = {(d.year, d.month) for d in (since + timedelta(days=i) for i in range((until - since).days))}
        assert months_between(since, until) == len(months)
        values = [rng.randrange(8) for _ in range(rng.randrange(0, 20))]
        zeros = rng.randrange(0, 30)
        if values or zeros:
            assert median_with_zeros(values, zeros) == statistics.median(values + [0] * zeros)


def test_csv_cells_are_never_spreadsheet_formulas() -> None:
    when = datetime(2026, 11, 2, tzinfo=timezone.utc)
    collector = Collector(when - timedelta(days=7), when + timedelta(days=7))
    for name in ('=HYPERLINK("http://evil.example/","x")', "+cmd", "-2+3", "@SUM(A1)", "\tTab", "orders"):
        collector.add(
            Deployment(
                commit="c" * 40,
                deployed_at=when,
                service=name,
                environment="prod",
                image=None,
                tag="v1",
                digest=None,
                author="a",
            )
        )
    overall, services = collector.finish()
    report = DoraReport(
        repo="r", since="s", until="u", environments=["prod"], overall=overall, services=services
    )
    rows = list(csv.reader(io.StringIO(writer("csv").render(report))))
    scopes = {row[0] for row in rows[1:]}
    assert scopes == {
        "all",
        '\'=HYPERLINK("http://evil.example/","x")',
        "'+cmd",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTab",
        "orders",
    }
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_history_limit_too_big_is_bad_input(bare: Path) -> None:
    proc = run_pipekit(
        "history", "--gitops-repo", str(bare), "--service", "orders", "--limit", "99999999999999999999"
    )
    assert proc.returncode == 2, proc.stderr
    assert "--limit" in proc.stderr


def test_a_utf16_incidents_file_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(
        "opened,resolved,service,environment\n2026-11-02T10:00:00Z,,orders,prod\n", encoding="utf-16"
    )
    with pytest.raises(BadInput, match="incidents.csv.*UTF-8"):
        incidents.load(path)


def test_a_deeply_nested_incidents_json_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "incidents.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(BadInput, match="nested too deeply"):
        incidents.load(path)
