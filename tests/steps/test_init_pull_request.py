"""pipekit init --via-pull-request: an environment whose change goes by pull request, written into
pipekit.yaml and the pipeline, recorded as an answer (kept by reruns and --upgrade). Real git repositories,
kustomize, schemas."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml

from pipekit.core import config as pipekit_config
from pipekit.onboarding import settings
from pipekit.onboarding.answers import Answers
from pipekit.onboarding.render import TEMPLATES
from pipekit.promotion.pull_request_settings import rule_for
from tests.conftest import load_schema
from tests.steps.test_init import IMAGE, cli, init, make_repos, serve_url


@pytest.fixture
def repos(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    return make_repos(tmp_path, git_repo, monkeypatch)


def steps(service: Path) -> dict[str, dict]:
    """The service branch's deploy steps of the generated pipeline, by deployment environment."""
    doc = yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())
    branch = next(iter(doc["pipelines"]["branches"].values()))
    return {s["step"]["deployment"]: s["step"] for s in branch if "step" in s and "deployment" in s["step"]}


def test_via_pull_request_writes_the_settings_and_the_step_and_is_kept(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    service, gitops, _bare = repos
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--image-repo",
        IMAGE,
        "--via-pull-request",
        "prod",
    )
    assert proc.returncode == 0, proc.stderr

    text = (service / "pipekit.yaml").read_text()
    pipekit_config.parse(text)  # pipekit's own schema
    config = yaml.safe_load(text)
    envs = config["environments"]
    assert envs["prod"]["via"] == "pull-request" and envs["prod"]["promotion"] == "manual"
    assert envs["prod"]["pull_request"] == {
        "min_approvals": 1,
        "merge": True,
        "wait_merge": True,
        "merge_timeout": 3600,
    }
    assert all("via" not in envs[e] and "pull_request" not in envs[e] for e in ("dev", "qa", "preprod"))
    rule = rule_for(envs, "prod")  # what promote reads: by pull request, merged and waited for
    assert (rule.by_pull_request, rule.merge, rule.wait_merge, rule.min_approvals) == (True, True, True, 1)
    assert not rule_for(envs, "preprod").by_pull_request

    pipeline = yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())
    jsonschema.validate(pipeline, load_schema("bitbucket-pipelines.schema.json"))
    deploy = steps(service)
    prod = deploy["prod"]
    assert prod["name"] == "Promote to prod by pull request" and prod["trigger"] == "manual"
    # the commands are the standard ones: the settings above make promote go by pull request and wait
    assert prod["script"] == [
        "pipekit promote --from preprod --to prod --service orders --approve",
        "pipekit wait-for-argocd --env prod",
    ]
    assert deploy["preprod"]["name"] == "Promote to preprod"
    raw = (service / "bitbucket-pipelines.yml").read_text()
    assert "PIPEKIT_GITOPS_TOKEN on Bitbucket Cloud (PIPEKIT_BITBUCKET_API_URL) or Data Center" in raw

    recorded = yaml.safe_load((service / ".pipekit/init.yaml").read_text())["answers"]
    assert recorded["pull_request_envs"] == ["prod"]
    again = cli(service, "--gitops-dir", str(gitops))  # the answer is recorded: a rerun changes nothing
    assert again.returncode == 0 and "nothing changed" in again.stdout, again.stdout + again.stderr

    # --upgrade to a newer pipekit's templates keeps it, and the team's edit of the settings too
    newer = tmp_path / "templates-0.2.0"
    shutil.copytree(TEMPLATES, newer)
    config_file = service / "pipekit.yaml"
    config_file.write_text(config_file.read_text().replace("      merge: true  #", "      merge: false  #"))
    result = init(service, gitops_dir=gitops, upgrade=True, templates=newer, version="0.2.0")
    assert result.status == "written", result  # type: ignore[attr-defined]
    upgraded = yaml.safe_load(config_file.read_text())["environments"]["prod"]
    assert upgraded["via"] == "pull-request" and upgraded["pull_request"]["merge"] is False
    assert steps(service)["prod"]["name"] == "Promote to prod by pull request"
    assert yaml.safe_load((service / ".pipekit/init.yaml").read_text())["answers"]["pull_request_envs"] == [
        "prod"
    ]

    # '' goes back to commits
    config_file.write_text(config_file.read_text().replace("      merge: false  #", "      merge: true  #"))
    back = cli(service, "--gitops-dir", str(gitops), "--via-pull-request", "")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "via" not in yaml.safe_load(config_file.read_text())["environments"]["prod"]
    assert steps(service)["prod"]["name"] == "Promote to prod"
    assert "pull_request_envs" not in yaml.safe_load((service / ".pipekit/init.yaml").read_text())["answers"]


def test_the_first_environment_by_pull_request_goes_through_update_tag(
    repos: tuple[Path, Path, Path],
) -> None:
    service, gitops, _bare = repos
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--environments",
        "dev,prod",
        "--via-pull-request",
        "dev,prod",
    )
    assert proc.returncode == 0, proc.stderr
    dev = steps(service)["dev"]
    assert dev["name"] == "Deploy to dev by pull request"
    assert dev["script"] == ["pipekit update-tag --env dev", "pipekit wait-for-argocd --env dev"]
    envs = yaml.safe_load((service / "pipekit.yaml").read_text())["environments"]
    assert rule_for(envs, "dev").by_pull_request and rule_for(envs, "prod").by_pull_request


@pytest.mark.parametrize(
    "args, message",
    [
        (("--via-pull-request", "staging"), "'staging' is not one of the environments"),
        (
            ("--environments", "dev,qa", "--via-pull-request", "prod"),
            "'prod' is not one of the environments (dev,qa)",
        ),
        (("--via-pull-request", "prod,prod"), "names an environment twice"),
    ],
)
def test_an_environment_it_does_not_onboard_is_exit_2(
    repos: tuple[Path, Path, Path], args: tuple[str, ...], message: str
) -> None:
    service, gitops, _bare = repos
    proc = cli(service, "--service", "orders", "--gitops-dir", str(gitops), *args)
    assert proc.returncode == 2, proc.stderr
    assert "--via-pull-request" in proc.stderr and message in proc.stderr
    assert not (service / "pipekit.yaml").exists()


def test_a_gitops_url_naming_no_bitbucket_repository_is_noted(
    tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.gitops.repo import make_repo

    monkeypatch.chdir(git_repo)
    bare, _seed = make_repo(tmp_path, [])
    url = "https://git.example.com/gitops.git"
    serve_url(tmp_path, {url: bare}, monkeypatch)
    result = init(git_repo, service="orders", gitops_repo=url, pull_request_envs=("prod",))
    assert any(
        "prod by pull request: the GitOps URL https://git.example.com/gitops.git names no Bitbucket "
        "workspace or project: set gitops.pull_request.workspace" in n
        for n in result.notes
    ), result.notes  # type: ignore[attr-defined]


def test_the_settings_a_pull_request_environment_needs() -> None:
    def answers(url: str) -> Answers:
        return Answers(service="orders", image_repo="orders", gitops_url=url, pull_request_envs=("prod",))

    dc = answers("ssh://git@git.example.com:7999/OPS/gitops.git")
    found = SimpleNamespace(
        environments={e: set() for e in ("dev", "qa", "preprod", "prod")},
        repository={"AWS_ROLE_ARN", "ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN", "PIPEKIT_TEAMS_WEBHOOK_URL"},
        workspace=set(),
        ssh_key=True,
    )
    missing = settings.missing(dc, {}, found)
    assert [m.split(" is not")[0] for m in missing] == [
        "PIPEKIT_GITOPS_TOKEN",
        "PIPEKIT_BITBUCKET_SERVER_URL",
    ]
    assert all("nor a deployment variable of prod:" in m and "the deploy steps of prod" in m for m in missing)
    found.environments["prod"] = {
        "PIPEKIT_GITOPS_TOKEN",
        "PIPEKIT_BITBUCKET_SERVER_URL",
    }  # deployment variables
    assert settings.missing(dc, {}, found) == []
    assert (
        settings.missing(
            dc,
            {"gitops": {"pull_request": {"server_url": "https://git.example.com"}}},
            SimpleNamespace(
                **{**vars(found), "environments": {**found.environments, "prod": {"PIPEKIT_GITOPS_TOKEN"}}}
            ),
        )
        == []
    )
    cloud = answers("git@bitbucket.org:acme/gitops.git")  # Cloud: the API's default base; only the token
    assert [n.label() for n in settings.needs(cloud, {}) if n.envs] == ["PIPEKIT_GITOPS_TOKEN"]
