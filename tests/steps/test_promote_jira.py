"""promote's `jira` gate: a gated qa promotes only when Jira says the promoted version is ready."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipekit.testing.jira import JiraStandIn
from tests.conftest import run_pipekit
from tests.fixtures.gitops.repo import git, make_repo, overlay, read

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

EMAIL, TOKEN = "ci@example.com", "jira-token-0123456789"
CONFIG = (
    "environments:\n  dev: {}\n  qa:\n    promotion: gated\n    gates: [jira]\n"
    "jira:\n  project: ORD\n  allowed_statuses: [Done, Ready for QA]\n"
)


@pytest.fixture(autouse=True)
def _no_jira_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JIRA_BASE_URL", "JIRA_USER_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "JIRA_CLOUD_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare, work = make_repo(tmp_path, ["orders"])
    path = work / overlay("orders", "dev")
    path.write_text(path.read_text().replace('newTag: "0000001"', 'newTag: "1.4.2-1a2b3c4"'))
    git("commit", "-qam", "dev build 1.4.2", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


@pytest.fixture
def jira() -> Iterator[JiraStandIn]:
    with JiraStandIn(email=EMAIL, token=TOKEN) as standin:
        standin.add_version("ORD", "1.4.2")
        standin.add_issue("ORD", "Refunds", "Done", fix_versions=("1.4.2",))
        standin.add_issue("ORD", "Invoices", "Ready for QA", fix_versions=("1.4.2",))
        yield standin


def promote(repo: Path, tmp_path: Path, jira_url: str, *args: str):
    (tmp_path / "pipekit.yaml").write_text(f"gitops:\n  repo: {repo}\n" + CONFIG)
    env = {
        "JIRA_BASE_URL": jira_url,
        "JIRA_USER_EMAIL": EMAIL,
        "JIRA_API_TOKEN": TOKEN,
        "PIPEKIT_JIRA_TIMEOUT": "2",
    }
    return run_pipekit(
        "promote", "--from", "dev", "--to", "qa", "--service", "orders", *args, env=env, cwd=tmp_path
    )


def qa_tag(repo: Path) -> str:
    return str(yaml.safe_load(read(repo, overlay("orders", "qa")))["images"][0]["newTag"])


def test_promotes_when_the_version_of_the_promoted_image_is_ready(
    repo: Path, tmp_path: Path, jira: JiraStandIn
) -> None:
    proc = promote(repo, tmp_path, jira.base_url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rule"] == "gated"
    assert qa_tag(repo) == "1.4.2-1a2b3c4"
    gate = json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["jira_gate"]["outputs"]
    assert (gate["passed"], gate["version"], gate["issues"]) == (True, "1.4.2", 2)


def test_refuses_while_an_issue_of_that_version_is_open(
    repo: Path, tmp_path: Path, jira: JiraStandIn
) -> None:
    before = qa_tag(repo)
    jira.add_issue("ORD", "Tax rounding", "In Progress", fix_versions=("1.4.2",), assignee="Grace")
    proc = promote(repo, tmp_path, jira.base_url)
    assert proc.returncode == 1
    assert (
        "promotion dev -> qa refused by gate 'jira': Jira gate blocked: 1 of 3 issues in ORD 1.4.2"
        in proc.stderr
    )
    assert "move ORD-3 to Done, Ready for QA or out of 1.4.2" in proc.stdout
    assert qa_tag(repo) == before


def test_refuses_when_jira_is_unreachable(repo: Path, tmp_path: Path) -> None:
    with JiraStandIn() as gone:
        url = gone.base_url
    before = qa_tag(repo)
    proc = promote(repo, tmp_path, url)
    assert proc.returncode == 1
    assert "refused by rule 'gated': gate 'jira' is not available: " in proc.stderr
    assert "failed after retries" in proc.stderr
    assert qa_tag(repo) == before


def test_a_sha_tag_takes_the_version_of_the_build_that_pushed_it(
    repo: Path, tmp_path: Path, jira: JiraStandIn
) -> None:
    work = tmp_path / "sha-seed"
    git("clone", "-q", str(repo), str(work), cwd=tmp_path)
    git("config", "user.email", "ci@example.com", cwd=work)
    git("config", "user.name", "CI", cwd=work)
    path = work / overlay("orders", "dev")
    path.write_text(path.read_text().replace('newTag: "1.4.2-1a2b3c4"', 'newTag: "9f8e7d6"'))
    git("commit", "-qam", "dev build 9f8e7d6", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    record = tmp_path / ".pipekit" / "run.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "succeeded",
                        "outputs": {
                            "version": "1.4.2-SNAPSHOT",
                            "tags": ["9f8e7d6", "1.4.2-SNAPSHOT-9f8e7d6"],
                        },
                    }
                },
            }
        )
    )
    proc = promote(repo, tmp_path, jira.base_url)
    assert proc.returncode == 0, proc.stderr
    assert qa_tag(repo) == "9f8e7d6"
    gate = json.loads(record.read_text())["steps"]["jira_gate"]["outputs"]
    assert (gate["passed"], gate["version"]) == (True, "1.4.2")

    record.write_text(json.dumps({"version": 1, "steps": {}}))  # no build in this pipeline: say what to set
    git("pull", "-q", "--rebase", "origin", "main", cwd=work)  # promote pushed qa meanwhile
    path.write_text(path.read_text().replace('newTag: "9f8e7d6"', 'newTag: "0a0b0c0"'))
    git("commit", "-qam", "dev build 0a0b0c0", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    proc = promote(repo, tmp_path, jira.base_url)
    assert proc.returncode == 1
    assert "cannot tell the Jira version of" in proc.stderr and "set PIPEKIT_JIRA_VERSION" in proc.stderr
