"""pipekit diff against GitOps and service repositories whose histories real pipekit commands made
(tests/fixtures/gitops/releases.py); the Jira stand-in for statuses; headless Chromium for the page."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.releases.notes import jira_keys
from pipekit.testing.jira import JiraStandIn
from tests.fixtures.gitops.releases import World, world  # noqa: F401 (the session fixture)
from tests.fixtures.gitops.repo import git


def repos(w: World) -> list[str]:
    return ["--source-repo", f"orders={w.repos['orders']}", "--source-repo", f"billing={w.repos['billing']}"]


def diff(w: World, *args: str, **env: str) -> dict:
    proc = w.pipekit("diff", "--json", *args, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_service(result: dict) -> dict[str, dict]:
    return {s["service"]: s for s in result["report"]["services"]}


def shas(w: World, commits: list[dict]) -> list[str]:
    names = {sha: name for name, sha in w.sha.items()}
    return [names[c["sha"]] for c in commits]


@pytest.mark.slow
def test_qa_to_prod_carries_commits_and_would_roll_back_the_hotfix(world: World) -> None:  # noqa: F811
    result = diff(world, "--from", "qa", "--to", "prod", *repos(world))
    got = by_service(result)
    assert list(got) == ["billing", "orders", "payments"]  # stock was never deployed: not in the diff
    orders = got["orders"]
    assert orders["state"] == "diverged"
    assert (orders["source"]["tag"], orders["target"]["tag"]) == ("o3", "h1")
    assert (orders["source"]["source_commit"], orders["target"]["source_commit"]) == (
        world.sha["o3"],
        world.sha["h1"],
    )
    assert shas(world, orders["commits"]) == ["o3"] and orders["total"] == 1
    assert shas(world, orders["rolled_back"]) == ["h1"]
    carried = orders["commits"][0]
    assert (carried["author"], carried["subject"]) == ("Carol", "ORD-3 ORD-4: refunds and their audit trail")
    assert carried["jira"] == ["ORD-3", "ORD-4", "ORD-77"] and orders["jira"] == ["ORD-3", "ORD-4", "ORD-77"]
    assert carried["date"] == "2026-11-05T10:00:00+00:00"
    assert "promoting would roll them back" in orders["note"]
    billing = got["billing"]
    assert billing["state"] == "carries" and shas(world, billing["commits"]) == ["b3"]
    assert billing["jira"] == ["BIL-3"] and billing["rolled_back"] == []
    assert (billing["target"]["tag"], billing["source"]["tag"]) == ("b2", "b3")  # prod was rolled back to b2
    payments = got["payments"]
    assert payments["state"] == "new" and payments["target"] is None
    assert payments["note"] == "has no prod overlay: onboard it there first (pipekit init)"
    assert result["jira_keys"] == ["BIL-3", "ORD-3", "ORD-4", "ORD-77"] and result["commits"] == 2
    assert result["counts"] == {"carries": 1, "diverged": 1, "new": 1}


def test_to_ahead_of_from_says_so_and_exits_0(world: World) -> None:  # noqa: F811
    proc = world.pipekit("diff", "--from", "preprod", "--to", "prod", *repos(world))
    assert proc.returncode == 0, proc.stderr
    assert "orders: to-ahead, h1 -> o2" in proc.stdout
    assert "the target is ahead of the source by 1 commit: promoting would roll them back" in proc.stdout
    got = by_service(diff(world, "--from", "preprod", "--to", "prod", *repos(world)))
    assert got["orders"]["state"] == "to-ahead" and got["orders"]["commits"] == []
    assert shas(world, got["orders"]["rolled_back"]) == ["h1"]


def test_dev_to_qa_unchanged_and_a_service_without_repository(world: World) -> None:  # noqa: F811
    got = by_service(diff(world, "--from", "dev", "--to", "qa", *repos(world)))
    assert got["billing"]["state"] == "unchanged" and got["billing"]["commits"] == []
    assert got["orders"]["state"] == "carries" and shas(world, got["orders"]["commits"]) == ["o4"]
    assert got["orders"]["jira"] == []  # "UTF-8" and "ISO-8601" in its body are not Jira keys
    assert got["payments"]["state"] == "unknown"
    assert got["payments"]["note"].startswith(
        "no source repository for payments: pass --source-repo payments="
    )
    # the same through the template and the config mapping
    tmpl = diff(world, "--from", "dev", "--to", "qa", PIPEKIT_SOURCE_REPO=str(world.root / "{service}-src"))
    assert {s: c["state"] for s, c in by_service(tmpl).items()} == {
        "billing": "unchanged",
        "orders": "carries",
        "payments": "carries",
    }


def test_an_unreadable_repository_or_a_missing_commit_only_affects_its_service(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    args = [
        "--from",
        "qa",
        "--to",
        "prod",
        "--source-repo",
        f"orders={world.repos['billing']}",  # lacks o3, h1
        "--source-repo",
        f"billing=file://{tmp_path}/gone.git",
    ]
    proc = world.pipekit("diff", "--json", *args, PIPEKIT_SOURCE_CACHE=str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    got = by_service(json.loads(proc.stdout))
    assert got["orders"]["state"] == "unknown"
    assert got["orders"]["note"].startswith(
        f"commit {world.sha['h1'][:12]} is not in {world.repos['billing']}"
    )
    assert got["billing"]["state"] == "unknown" and got["billing"]["note"].startswith("cannot read file://")
    assert got["payments"]["state"] == "new"


@pytest.mark.slow
def test_a_url_is_cloned_blobless_into_the_cache_and_fetched_when_a_commit_is_missing(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    origin = tmp_path / "orders-origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("config", "uploadpack.allowFilter", "true", cwd=origin)
    git("push", "-q", str(origin), "main", cwd=world.repos["orders"])  # the hotfix is not on the server yet
    cache = tmp_path / "cache"
    args = ["--from", "qa", "--to", "prod", "--source-repo", f"orders={origin.as_uri()}"]
    first = by_service(diff(world, *args, PIPEKIT_SOURCE_CACHE=str(cache)))
    clones = list(cache.iterdir())
    assert len(clones) == 1 and clones[0].name.startswith("orders-origin.git-")
    assert git("config", "remote.origin.promisor", cwd=clones[0]) == "true"  # blob-less
    assert first["orders"]["note"].startswith(f"commit {world.sha['h1'][:12]} is not in {origin.as_uri()}")
    git("push", "-q", str(origin), f"{world.sha['h1']}:refs/heads/hotfix/h1", cwd=world.repos["orders"])
    again = by_service(diff(world, *args, PIPEKIT_SOURCE_CACHE=str(cache)))
    assert again["orders"]["state"] == "diverged" and shas(world, again["orders"]["rolled_back"]) == ["h1"]


@pytest.mark.slow
def test_bad_input_is_exit_2_naming_it(world: World, tmp_path: Path) -> None:  # noqa: F811
    cases = [
        (
            ["--from", "qa", "--to", "staging"],
            "--to staging: unknown environment (known: dev, qa, preprod, prod)",
        ),
        (["--from", "uat", "--to", "prod"], "--from uat: unknown environment"),
        (
            ["--from", "qa", "--to", "prod", "--service", "shipping"],
            "--service shipping: no overlay of that service",
        ),
        (["--from", "qa", "--to", "qa"], "--from and --to are both 'qa'"),
        (
            ["--from", "qa", "--to", "prod", "--source-repo", f"orders={tmp_path}"],
            f"--source-repo orders: {tmp_path} is not a git repository",
        ),
        (
            ["--from", "qa", "--to", "prod", "--source-repo", f"orders={world.repos['orders'] / 'o1.txt'}"],
            "is not a directory",
        ),
        (["--from", "qa", "--to", "prod", "--source-repo", "orders"], "expected SERVICE=URL_OR_PATH"),
        (["--to", "prod"], "missing option --from"),
        (["--from", "qa", "--to", "prod", "--jira"], "no Jira: set JIRA_BASE_URL"),
    ]
    git("init", "-q", str(tmp_path / "outer"), cwd=tmp_path)
    (tmp_path / "outer" / "inside").mkdir()
    cases.append(
        (
            ["--from", "qa", "--to", "prod", "--source-repo", f"orders={tmp_path / 'outer' / 'inside'}"],
            f"(it is inside {tmp_path / 'outer'})",
        )
    )
    for args, message in cases:
        proc = world.pipekit("diff", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)


@pytest.fixture
def jira() -> Iterator[JiraStandIn]:
    with JiraStandIn(email="rel@example.com", token="jira-secret") as standin:
        for summary, status in (
            ("Create the orders service", "Done"),
            ("Order list", "Done"),
            ("Refunds", "Done"),
            ("Refund audit trail", "In Progress"),
        ):
            standin.add_issue("ORD", summary, status)
        for summary in ("Invoices", "Credit notes", "VAT rounding"):
            standin.add_issue("BIL", summary, "Done")
        yield standin


@pytest.mark.slow
def test_jira_statuses_flag_what_is_not_allowed_and_what_jira_lacks(
    world: World,  # noqa: F811
    jira: JiraStandIn,
) -> None:
    env = {
        "JIRA_BASE_URL": jira.base_url,
        "JIRA_USER_EMAIL": "rel@example.com",
        "JIRA_API_TOKEN": "jira-secret",
        "PIPEKIT_JIRA_ALLOWED_STATUSES": "Done",
    }
    result = diff(world, "--from", "qa", "--to", "prod", "--jira", *repos(world), **env)
    issues = result["report"]["issues"]
    assert {k: (i["found"], i["status"], i["allowed"]) for k, i in issues.items()} == {
        "BIL-3": (True, "Done", True),
        "ORD-3": (True, "Done", True),
        "ORD-4": (True, "In Progress", False),
        "ORD-77": (False, "", None),
    }
    assert issues["ORD-4"]["summary"] == "Refund audit trail"
    assert issues["ORD-3"]["url"] == f"{jira.base_url}/browse/ORD-3"
    assert result["flagged"] == ["ORD-4", "ORD-77"]
    searches = [r for r in jira.requests if r[1].endswith("/search/jql")]
    assert [s[2] for s in searches] == [400, 200]  # ORD-77 refused the first query; asked again without it
    text = world.pipekit("diff", "--from", "qa", "--to", "prod", "--jira", *repos(world), **env)
    assert "  ORD-4  In Progress  Refund audit trail  ! not in Done" in text.stdout
    assert "  ORD-77  -    ! not found" in text.stdout
    assert "jira-secret" not in text.stdout + text.stderr
    only_ord = diff(world, "--from", "qa", "--to", "prod", "--jira-project", "ORD", *repos(world))
    assert only_ord["jira_keys"] == ["ORD-3", "ORD-4", "ORD-77"]
    wrong = world.pipekit(
        "diff", "--from", "qa", "--to", "prod", "--jira", *repos(world), **{**env, "JIRA_API_TOKEN": "nope"}
    )
    assert wrong.returncode == 2 and "credentials were refused" in wrong.stderr
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = diff(
        world,
        "--from",
        "qa",
        "--to",
        "prod",
        "--jira",
        *repos(world),
        **{**env, "JIRA_BASE_URL": closed, "PIPEKIT_JIRA_TIMEOUT": "2"},
    )
    assert down["report"]["jira_error"] and down["report"]["issues"] == {}


def test_markdown_release_notes(world: World) -> None:  # noqa: F811
    proc = world.pipekit("diff", "--from", "qa", "--to", "prod", "--format", "markdown", *repos(world))
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("# Release notes: qa → prod\n")
    sections = [line for line in md.splitlines() if line.startswith("#")]
    assert sections == [
        "# Release notes: qa → prod",
        "## Changes",
        "### billing `b2` → `b3`",
        "### payments – → `p1`",
        "## Would roll back what prod runs",
        "### orders `h1` → `o3`",
    ]
    assert f"- BIL-3 Fix the rounding of VAT (`{world.sha['b3'][:8]}`, Dave) `BIL-3`" in md
    assert (
        f"- ORD-3 ORD-4: refunds and their audit trail (`{world.sha['o3'][:8]}`, Carol) `ORD-3` `ORD-4` "
        "`ORD-77`" in md
    )
    assert f"- ORD-9 Hotfix: a null customer crashed checkout (`{world.sha['h1'][:8]}`, Bob) `ORD-9`" in md


@pytest.mark.slow
def test_html_release_notes_in_chromium(world: World, tmp_path: Path) -> None:  # noqa: F811
    from tests.steps.test_status import _check_page

    page = tmp_path / "diff.html"
    proc = world.pipekit(
        "diff", "--from", "qa", "--to", "prod", "--format", "html", "--out", str(page), *repos(world)
    )
    assert proc.returncode == 0, proc.stderr
    html = _check_page(tmp_path, page, "diff-release-notes.png")
    assert "Would roll back what prod runs" in html and 'class="state s-diverged"' in html


def test_jira_keys_in_commit_messages() -> None:
    text = (
        "feature/ORD-12-refund merged; fixes ORD-13, ord-14 and ORD-015; see CVE-2024-1234, UTF-8, SHA-256, "
        "ISO-8601; ABCDEFGHIJK-1 is too long a key; X-1; BIL-7."
    )
    assert jira_keys(text) == ["ORD-12", "ORD-13", "BIL-7"]
    assert jira_keys(text, ["bil"]) == ["BIL-7"]


def test_git_identity_of_the_service_repositories_is_untouched(world: World) -> None:  # noqa: F811
    """diff only reads: no commit, ref or config change in the service repositories."""
    before = git("for-each-ref", cwd=world.repos["orders"])
    world.pipekit("diff", "--from", "qa", "--to", "prod", *repos(world))
    assert git("for-each-ref", cwd=world.repos["orders"]) == before
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=world.repos["orders"], capture_output=True, text=True
        ).stdout
        == ""
    )


def test_jira_refusing_the_query_without_naming_keys_asks_them_one_by_one(jira: JiraStandIn) -> None:
    from pipekit.clients.jira import JiraClient
    from pipekit.releases.issues import lookup

    jira.fail_next(400, messages=("Error in the JQL Query: the query is too complex.",))
    client = JiraClient(jira.base_url, email="rel@example.com", token="jira-secret")
    found = lookup(client, ["ORD-3", "ORD-77", "BIL-1"], ["done"])
    assert {k: (i.found, i.allowed) for k, i in found.items()} == {
        "ORD-3": (True, True),
        "ORD-77": (False, None),
        "BIL-1": (True, True),
    }
    statuses = [r[2] for r in jira.requests if r[1].endswith("/search/jql")]
    assert statuses == [400, 200, 400, 200]  # the batch; then ORD-3, ORD-77 (refused: not found), BIL-1
