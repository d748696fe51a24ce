"""pipekit status against GitOps and service repositories whose histories real pipekit commands made
(tests/fixtures/gitops/releases.py), the Argo CD stand-in for the live state,
headless Chromium for the page."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.testing.argocd.server import ArgoCDStandIn
from tests.conftest import REPO_ROOT
from tests.fixtures.gitops.releases import World, digest, world  # noqa: F401 (the session fixture)
from tests.fixtures.gitops.repo import IMAGE
from tests.steps.test_dora_outputs import chromium, console_errors

SERVICES = ["billing", "orders", "payments", "stock"]
ENVS = ["dev", "qa", "preprod", "prod"]


def status(w: World, *args: str, **env: str) -> dict:
    proc = w.pipekit("status", "--json", *args, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["report"]


def cells(report: dict) -> dict[tuple[str, str], dict | None]:
    return {(row["service"], e): c for row in report["services"] for e, c in row["environments"].items()}


@pytest.mark.slow
def test_the_matrix_is_what_the_history_says(world: World) -> None:  # noqa: F811
    report = status(world)
    assert report["environments"] == ENVS and report["revision"] == world.head()
    assert [r["service"] for r in report["services"]] == SERVICES
    assert report["upstream"] == {"qa": "dev", "preprod": "qa", "prod": "preprod"}
    got = cells(report)
    # (tag, digest, kind, promoted from) of every cell, written from the histories
    expected = {
        ("orders", "dev"): ("o4", digest("o4"), "deploy", None),
        ("orders", "qa"): ("o3", digest("o3"), "promotion", "dev"),
        ("orders", "preprod"): ("o2", digest("o2"), "promotion", "qa"),
        ("orders", "prod"): ("h1", digest("h1"), "deploy", None),
        ("billing", "dev"): ("b3", None, "deploy", None),
        ("billing", "qa"): ("b3", None, "promotion", "dev"),
        ("billing", "preprod"): ("b3", None, "promotion", "qa"),
        ("billing", "prod"): ("b2", None, "rollback", None),
        ("payments", "dev"): ("p2", None, "deploy", None),
        ("payments", "qa"): ("p1", None, "promotion", "dev"),
    }
    for key, (tag, dig, kind, source) in expected.items():
        c = got[key]
        assert c is not None, key
        assert (c["tag"], c["digest"], c["kind"], c["promoted_from"]) == (tag, dig, kind, source), key
        assert c["source_commit"] == world.sha[tag], key  # promotions carry the build's source commit
        assert c["deployed"] is True and c["since"] and c["age_s"] >= 0 and c["author"] == "pipekit"
    assert got[("payments", "preprod")] is None and got[("payments", "prod")] is None  # only in dev and qa
    assert (
        got[("orders", "prod")]["build_number"] == 12
        and got[("orders", "prod")]["image"] == f"{IMAGE.format(service='orders')}:h1@{digest('h1')}"
    )
    assert got[("orders", "qa")]["gitops_commit"] == world.gitops_commits["orders:qa:promote"]
    for env in ENVS:  # onboarded, never deployed: the overlay's image as init left it
        stock = got[("stock", env)]
        assert stock is not None and stock["deployed"] is False and stock["kind"] == "onboarded"
        assert stock["tag"] in ("0000001", "abc1234", "v0.9.0", "v0.8.0")
    marks = {k: c["marks"] for k, c in got.items() if c and c["marks"]}
    assert marks == {("orders", "prod"): ["ahead"], ("billing", "prod"): ["rolled-back"]}
    assert "newer than preprod's o2" in got[("orders", "prod")]["notes"][0]
    assert got[("billing", "prod")]["rollback_of"] == world.gitops_commits["billing:prod:promote"]
    assert report["counts"] == {"ahead": 1, "rolled-back": 1}


@pytest.mark.slow
def test_filters_and_bad_names(world: World) -> None:  # noqa: F811
    report = status(world, "--service", "orders", "--env", "prod", "--env", "dev")
    assert report["environments"] == ["dev", "prod"]  # the promotion order, not the flags'
    assert [r["service"] for r in report["services"]] == ["orders"]
    assert cells(report)[("orders", "prod")]["marks"] == ["ahead"]  # preprod is read for the mark, not shown
    bad = world.pipekit("status", "--env", "staging")
    assert (
        bad.returncode == 2
        and "--env staging: unknown environment (known: dev, qa, preprod, prod)" in bad.stderr
    )
    bad = world.pipekit("status", "--service", "shipping")
    assert bad.returncode == 2 and "--service shipping: no overlay of that service" in bad.stderr
    missing = world.pipekit("status", "--gitops-repo", str(world.root / "nowhere"))
    assert missing.returncode == 2 and "no such directory" in missing.stderr


@pytest.mark.slow
def test_table_and_markdown(world: World) -> None:  # noqa: F811
    table = world.pipekit("status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[2].split("|")[0].strip() == "service" and "prod (from preprod)" in lines[2]
    assert any(re.match(r"orders\s+\| o4 @", line) for line in lines)
    assert "  orders in prod: ahead: newer than preprod's o2" in table.stdout
    assert "  billing in prod: rolled-back: rollback of" in table.stdout
    md = world.pipekit("status", "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert "| service | dev | qa | preprod | prod |" in md.stdout
    row = next(line for line in md.stdout.splitlines() if line.startswith("| **orders** |"))
    assert row.count(" | ") == 4 and "⚠ **ahead**" in row and "`h1` `@683168316831`" in row


@pytest.fixture
def argo(world: World) -> Iterator[ArgoCDStandIn]:  # noqa: F811
    """Every app at the GitOps tip running the desired image, except where each mark should show."""
    report = status(world)
    head = world.head()
    with ArgoCDStandIn() as argocd:
        for (service, env), c in cells(report).items():
            if c is None or not c["deployed"] or (service, env) == ("payments", "qa"):
                continue  # no app for payments in qa, nor for stock anywhere
            name = IMAGE.format(service=service)
            image = f"{name}@{c['digest']}" if c["digest"] else f"{name}:{c['tag']}"
            argocd.add_app(
                f"{service}-{env}",
                revision=head,
                resources=[{"name": service, "images": [image, "docker.io/library/busybox:1.36"]}],
            )
        # orders in prod: Argo CD still at the commit before the hotfix (behind)
        argocd.set_state(
            "orders-prod",
            revision=world.gitops_commits["orders:preprod:promote"],
            resources=[{"name": "orders", "images": [f"{IMAGE.format(service='orders')}@{digest('o1')}"]}],
        )
        argocd.set_state("billing-qa", sync="OutOfSync")  # drift at the right revision
        argocd.set_state(
            "billing-dev",
            resources=[
                {
                    "name": "billing",  # someone set another image by hand
                    "images": [f"{IMAGE.format(service='billing')}:b2"],
                }
            ],
        )
        argocd.set_state("orders-qa", health="Degraded")
        yield argocd


@pytest.mark.slow
def test_argocd_live_state_and_drift(world: World, argo: ArgoCDStandIn) -> None:  # noqa: F811
    report = status(world, "--argocd", ARGOCD_SERVER=argo.url, ARGOCD_AUTH_TOKEN=argo.token)
    got = cells(report)
    marks = {k: c["marks"] for k, c in got.items() if c and c["marks"]}
    assert marks == {
        ("orders", "prod"): ["ahead", "behind"],
        ("billing", "prod"): ["rolled-back"],
        ("billing", "qa"): ["drift"],
        ("billing", "dev"): ["drift"],
        ("orders", "qa"): ["unhealthy"],
        ("payments", "qa"): ["no-app"],
        **{("stock", e): ["no-app"] for e in ENVS},
    }
    assert got[("orders", "dev")]["live"] == {
        "app": "orders-dev",
        "sync": "Synced",
        "health": "Healthy",
        "revision": world.head(),
        "images": sorted(
            [f"{IMAGE.format(service='orders')}@{digest('o4')}", "docker.io/library/busybox:1.36"]
        ),
        "drift": None,
    }
    assert "older than" in got[("orders", "prod")]["live"]["drift"]
    assert got[("billing", "dev")]["live"]["drift"] == "Argo CD runs b2; GitOps says b3"
    assert got[("billing", "qa")]["live"]["drift"].startswith("OutOfSync at ")
    assert report["argocd"] == argo.url
    assert [r for r in argo.requests if r[1].startswith("/api/v1/applications")] == [
        ("GET", "/api/v1/applications")
    ]
    no_creds = world.pipekit("status", "--argocd", ARGOCD_SERVER=argo.url)
    assert no_creds.returncode == 2 and "no Argo CD credentials" in no_creds.stderr


def _keep(shot: Path, name: str) -> None:
    keep = REPO_ROOT / ".pytest_artifacts"
    keep.mkdir(exist_ok=True)
    shutil.copy(shot, keep / name)


def _check_page(tmp: Path, page: Path, name: str) -> str:
    html = page.read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)  # self-contained
    shot = tmp / name
    run = chromium(tmp, page, shot)
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    assert shot.stat().st_size > 10_000
    _keep(shot, name)
    return html


@pytest.mark.slow
def test_html_page_in_chromium(world: World, argo: ArgoCDStandIn, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "status.html"
    proc = world.pipekit(
        "status",
        "--argocd",
        "--format",
        "html",
        "--out",
        str(page),
        ARGOCD_SERVER=argo.url,
        ARGOCD_AUTH_TOKEN=argo.token,
    )
    assert proc.returncode == 0, proc.stderr
    html = _check_page(tmp_path, page, "status-matrix.png")
    assert html.count('<tr><th class="svc">') == 1 + 4 and html.count("badge m-no-app") >= 5
    assert 'class="cell c-behind"' in html  # orders in prod: the worst mark colours its edge


@pytest.mark.slow
def test_html_page_reads_at_20_services_by_4_environments(tmp_path: Path) -> None:
    """A 20 x 4 matrix from a generated 2,000-commit history (scripts/gen_gitops_repo.py), screenshotted."""
    import sys

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from gen_gitops_repo import generate

    bare = generate(tmp_path / "gitops.git", services=20, commits=2000, seed=3)
    page = tmp_path / "status-20x4.html"
    w = World(root=tmp_path, gitops=bare)
    (tmp_path / "pipekit.yaml").write_text(f"gitops:\n  repo: {bare}\n")
    proc = w.pipekit("status", "--format", "html", "--out", str(page))
    assert proc.returncode == 0, proc.stderr
    html = _check_page(tmp_path, page, "status-matrix-20x4.png")
    assert html.count('<tr><th class="svc">') == 1 + 20 and html.count("<td>") == 80
