"""What `pipekit init` writes works on a team's first real run (issue 21): one test per finding.

Each test fails on the templates of a615d5a (tests/fixtures/init_a615d5a holds what they wrote;
test_template_1_output_fails_todays_checks runs today's checks on it). The repositories are real
git repositories; the GitOps one has a URL (served from a local bare repository).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipekit.core.step import StepContext
from pipekit.kube.podsecurity import missing_resources, restricted
from pipekit.onboarding import schemas
from tests.conftest import SCHEMAS, git, run_pipekit
from tests.steps.test_init import GITOPS_URL, IMAGE, cli, init, kustomize, serve_url, tree_hashes

FIXTURE = Path(__file__).parents[1] / "fixtures" / "init_a615d5a"


def repo(root: Path, branch: str, files: Path | None = None) -> Path:
    root.mkdir(parents=True)
    git("init", "-q", "-b", branch, cwd=root)
    git("config", "user.email", "dev@example.com", cwd=root)
    git("config", "user.name", "Dev Eloper", cwd=root)
    if files is not None:
        shutil.copytree(files, root, dirs_exist_ok=True)
    (root / "README.md").write_text(f"{root.name}\n")
    git("add", ".", cwd=root)
    git("commit", "-q", "-m", "start", cwd=root)
    return root


@pytest.fixture
def master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(service repository on master, GitOps checkout on master, the bare GitOps repository)."""
    service = repo(tmp_path / "orders", "master")
    seed = repo(tmp_path / "gitops-seed", "master")
    bare = tmp_path / "gitops.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    serve_url(tmp_path, {GITOPS_URL: bare}, monkeypatch)
    checkout = tmp_path / "gitops"
    git("clone", "-q", GITOPS_URL, str(checkout), cwd=tmp_path)
    monkeypatch.chdir(service)
    return service, checkout, bare


def onboard(service: Path, gitops: Path, **kw: Any) -> Any:
    return init(service, gitops_dir=gitops, **{"service": "orders", "image_repo": IMAGE, **kw})


def pipeline(service: Path) -> dict[str, Any]:
    return yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())


def config(service: Path) -> dict[str, Any]:
    return yaml.safe_load((service / "pipekit.yaml").read_text())


def all_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step as Bitbucket runs it (aliases resolved), in every pipeline."""
    out = []
    for kind, value in doc["pipelines"].items():
        groups = value.values() if kind != "default" else [value]
        for items in groups:
            for item in items:
                for step in [p["step"] for p in item["parallel"]] if "parallel" in item else [item["step"]]:
                    out.append(step)
    return out


def test_template_1_output_fails_todays_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a615d5a's init wrote, run through today's `init --check`: the findings of issue 21 show up."""
    service = repo(tmp_path / "orders", "main", FIXTURE / "service")
    gitops = repo(tmp_path / "gitops", "main", FIXTURE / "gitops")
    git("remote", "add", "origin", GITOPS_URL, cwd=gitops)
    proc = run_pipekit("init", "--check", "--gitops-dir", str(gitops), cwd=service)
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "(Push to ECR): 'pipekit ecr-push' finds no image" in err  # item 3
    assert "(Unit tests): no 'oidc: true'" in err  # item 8
    assert "(Push to ECR): 'caches: docker' on a step that builds no image" in err  # item 15
    assert "argocd.timeout 600 s is shorter than a normal deploy may take" in err  # item 12
    assert "securityContext.allowPrivilegeEscalation must be false" in err  # item 14
    assert "resources.limits has no cpu" in err  # item 14 (a ResourceQuota on limits.cpu)


def test_the_service_and_gitops_branches_are_the_repositories_own(master: tuple[Path, Path, Path]) -> None:
    """Item 1: a service on master, a GitOps checkout on its own branch (production)."""
    service, gitops, _ = master
    git("checkout", "-q", "-b", "production", cwd=gitops)
    assert onboard(service, gitops).status == "written"
    doc = pipeline(service)
    assert list(doc["pipelines"]["branches"]) == ["master"]
    assert [s["step"]["name"] for s in doc["pipelines"]["default"]] == [
        "Build and unit tests",
        "Security gate",
    ]
    assert config(service)["gitops"]["branch"] == "production"
    apps = [yaml.safe_load(p.read_text()) for p in (gitops / "argocd/orders").rglob("*.yaml")]
    revisions = {a["spec"]["source"]["targetRevision"] for a in apps if a["kind"] == "Application"}
    assert revisions == {"production"} and len(apps) == 6


@pytest.mark.slow
def test_the_gitops_repositorys_default_branch_is_found_and_followed(master: tuple[Path, Path, Path]) -> None:
    """Item 1 with --gitops-repo: the clone, the commit and targetRevision use the remote's default branch."""
    service, _, bare = master
    result = init(service, service="orders", gitops_repo=GITOPS_URL, image_repo=IMAGE)
    assert result.status == "written" and result.gitops_revision == git("rev-parse", "master", cwd=bare)
    assert config(service)["gitops"]["branch"] == "master"
    app = yaml.safe_load(git("show", "master:argocd/orders/apps/orders-dev.yaml", cwd=bare))
    assert app["spec"]["source"]["targetRevision"] == "master"
    other = service.parent / "other"
    git("clone", "-q", GITOPS_URL, str(other), cwd=service.parent)
    git("push", "-q", "origin", "master:release", cwd=other)
    master_head = git("rev-parse", "master", cwd=bare)
    result = init(service, gitops_repo=GITOPS_URL, gitops_branch="release")
    assert result.status == "written" and result.gitops_revision == git("rev-parse", "release", cwd=bare)
    assert git("rev-parse", "master", cwd=bare) == master_head  # written on the branch Argo CD follows
    assert config(service)["gitops"]["branch"] == "release"
    app = yaml.safe_load(git("show", "release:argocd/orders/apps/orders-dev.yaml", cwd=bare))
    assert app["spec"]["source"]["targetRevision"] == "release"


def test_scanners_have_rules_and_run_in_the_steps_that_call_them(master: tuple[Path, Path, Path]) -> None:
    """Item 2: semgrep gets a default ruleset from pipekit.yaml; the runner takes a registry ruleset."""
    from pipekit.reports.runners import registry

    service, gitops, _ = master
    onboard(service, gitops)
    rules = config(service)["scan"]["run"]["semgrep"]["config"]
    assert rules == "p/java"
    run = registry.plan(
        "semgrep",
        {"config": rules},
        service / ".pipekit/scan",
        {"PATH": str(Path(shutil.which("semgrep") or "/usr/bin/semgrep").parent)},
    )
    assert run.argv[run.argv.index("--config") + 1] == "p/java"


def test_the_image_is_built_and_pushed_in_one_step(master: tuple[Path, Path, Path]) -> None:
    """Item 3 (and 15): each step has its own docker service, so build and push share one;
    only it caches docker."""
    service, gitops, _ = master
    onboard(service, gitops)
    steps = all_steps(pipeline(service))
    pushing = [s for s in steps if any("ecr-push" in line for line in s["script"])]
    assert pushing and all(
        s["script"][0].startswith("pipekit build") and s["services"] == ["docker"] and s["oidc"] is True
        for s in pushing
    )
    for step in steps:
        builds = any(line.startswith("pipekit build") and "--no-image" not in line for line in step["script"])
        assert ("docker" in step.get("caches", [])) == builds, step["name"]
        assert ("docker" in step.get("services", [])) == builds, step["name"]


def test_ecr_region_comes_from_the_image_repository(master: tuple[Path, Path, Path]) -> None:
    """Item 4: ecr-push finds its region in the generated pipekit.yaml (no AWS_REGION in the step)."""
    from pipekit import ecr_push

    service, gitops, _ = master
    onboard(service, gitops)
    assert config(service)["ecr"]["region"] == "eu-west-1"
    ctx = StepContext.create(env={}, config_path=service / "pipekit.yaml", cwd=service)
    assert ecr_push.options_from(ctx, {}).region == "eu-west-1"


@pytest.mark.slow
def test_qa_is_gated_by_jira_only_with_a_jira_project(master: tuple[Path, Path, Path]) -> None:
    """Item 6: --jira-project writes the jira section and gates qa;
    without it qa is promoted ungated, said so."""
    service, gitops, _ = master
    proc = cli(service, "--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE)
    assert proc.returncode == 0, proc.stderr
    assert "qa is promoted automatically, without the Jira gate" in proc.stdout + proc.stderr
    assert config(service)["environments"]["qa"] == {"promotion": "auto"} and "jira" not in config(service)
    proc = cli(service, "--gitops-dir", str(gitops), "--jira-project", "ORD")
    assert proc.returncode == 0, proc.stderr
    assert config(service)["jira"] == {"project": "ORD"}
    assert config(service)["environments"]["qa"] == {"promotion": "gated", "gates": ["jira"]}
    names = [s["step"]["name"] for s in pipeline(service)["pipelines"]["branches"]["master"][1:]]
    assert "Promote to qa (jira gate)" in names


@pytest.mark.slow
def test_every_step_pulling_the_ecr_image_has_oidc(master: tuple[Path, Path, Path]) -> None:
    """Item 8: with `image: aws: oidc-role`, Bitbucket uses the role only in steps with `oidc: true`."""
    service, gitops, _ = master
    onboard(service, gitops)
    doc = pipeline(service)
    assert doc["image"]["aws"] == {"oidc-role": "$AWS_ROLE_ARN"}
    assert all(step.get("oidc") is True for step in all_steps(doc))
    onboard(service, gitops, image_repo="registry.example.com/acme/orders", force=True)  # not ECR: no role
    doc = pipeline(service)
    assert isinstance(doc["image"], str)
    assert [s["name"] for s in all_steps(doc) if s.get("oidc")] == ["Build and push image"]  # ecr-push's own


@pytest.mark.parametrize(
    ("envs", "jira", "first", "rule"),
    [
        (
            ("prod",),
            None,
            {"trigger": "manual", "script0": "pipekit update-tag --env prod"},
            {"promotion": "manual"},
        ),
        (
            ("preprod", "prod"),
            None,
            {"trigger": "manual", "script0": "pipekit update-tag --env preprod"},
            {"promotion": "manual"},
        ),
        (
            ("qa", "prod"),
            "ORD",
            {"trigger": None, "script0": "pipekit jira-gate"},
            {"promotion": "gated", "gates": ["jira"]},
        ),
    ],
)
def test_the_first_environment_keeps_its_own_rule(
    master: tuple[Path, Path, Path],
    envs: tuple[str, ...],
    jira: str | None,
    first: dict[str, Any],
    rule: dict[str, Any],
) -> None:
    """Item 9: a first environment whose rule is manual (or gated) is not deployed on every push."""
    service, gitops, _ = master
    onboard(service, gitops, environments=envs, jira_project=jira)
    step = pipeline(service)["pipelines"]["branches"]["master"][3]["step"]
    assert step["deployment"] == envs[0] and step.get("trigger") == first["trigger"]
    assert step["script"][0] == first["script0"] and f"pipekit update-tag --env {envs[0]}" in step["script"]
    assert config(service)["environments"][envs[0]] == rule


@pytest.mark.slow
def test_no_pods_until_a_real_image(master: tuple[Path, Path, Path]) -> None:
    """Item 10: every overlay renders its Deployment at 0 replicas while its image is the placeholder."""
    service, gitops, _ = master
    onboard(service, gitops)
    for env in ("dev", "qa", "preprod", "prod"):
        docs = kustomize(gitops / f"apps/orders/overlays/{env}")
        deploy = next(d for d in docs if d["kind"] == "Deployment")
        assert deploy["spec"]["replicas"] == 0
        assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:pending"


def test_the_post_sync_results_outlive_the_job(master: tuple[Path, Path, Path]) -> None:
    """Item 11: --test-results-s3 makes the Job upload its JUnit and summary (docs/post_sync_test.md)."""
    service, gitops, _ = master
    onboard(service, gitops, test_results_s3="s3://acme-test-results/post-sync")
    job = next(
        d
        for d in yaml.safe_load_all((gitops / "apps/orders/base/post-sync-test.yaml").read_text())
        if d["kind"] == "Job"
    )
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--upload") + 1] == "s3://acme-test-results/post-sync"


@pytest.mark.slow
def test_wait_for_argocd_outlasts_the_rollout_and_the_job(master: tuple[Path, Path, Path]) -> None:
    """Item 12: argocd.timeout >= progressDeadlineSeconds + activeDeadlineSeconds + a minute;
    --check holds it."""
    service, gitops, _ = master
    onboard(service, gitops)
    base = gitops / "apps/orders/base"
    job = next(
        d for d in yaml.safe_load_all((base / "post-sync-test.yaml").read_text()) if d["kind"] == "Job"
    )
    deploy = yaml.safe_load((base / "deployment.yaml").read_text().split("\n", 4)[4])
    timeout = config(service)["argocd"]["timeout"]
    assert timeout >= deploy["spec"]["progressDeadlineSeconds"] + job["spec"]["activeDeadlineSeconds"] + 60
    text = (service / "pipekit.yaml").read_text()
    (service / "pipekit.yaml").write_text(text.replace(f"timeout: {timeout}", "timeout: 600"))
    proc = cli(service, "--check", "--gitops-dir", str(gitops))
    assert (
        proc.returncode == 1
        and "argocd.timeout 600 s is shorter than a normal deploy may take" in proc.stderr
    )


@pytest.mark.slow
def test_repo_url_is_one_argo_cd_can_reach(master: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Item 13: a local path is no repoURL: exit 2 naming it; --gitops-url names the URL;
    --check catches one."""
    service, gitops, bare = master
    before = tree_hashes(service)
    proc = cli(service, "--service", "orders", "--gitops-repo", str(bare))
    assert (
        proc.returncode == 2
        and f"GitOps repository URL {str(bare)!r} is not a URL Argo CD can reach" in proc.stderr
    )
    assert tree_hashes(service) == before
    assert init(service, service="orders", gitops_repo=str(bare), gitops_url=GITOPS_URL).status == "written"
    app = yaml.safe_load(git("show", "master:argocd/orders/apps/orders-qa.yaml", cwd=bare))
    assert app["spec"]["source"]["repoURL"] == GITOPS_URL
    work = tmp_path / "check"
    git("clone", "-q", GITOPS_URL, str(work), cwd=tmp_path)
    path = work / "argocd/orders/apps/orders-qa.yaml"
    path.write_text(path.read_text().replace(f"repoURL: {GITOPS_URL}", f"repoURL: {bare}"))
    proc = cli(service, "--check", "--gitops-dir", str(work))
    assert (
        proc.returncode == 1
        and "spec.source.repoURL" in proc.stderr
        and "not a URL Argo CD can reach" in proc.stderr
    )


def test_pods_pass_the_restricted_pod_security_level(master: tuple[Path, Path, Path]) -> None:
    """Item 14: the Deployment's and the Job's pods are admitted by `restricted` and a ResourceQuota."""
    service, gitops, _ = master
    onboard(service, gitops, requests="cpu=500m,memory=1Gi", limits="cpu=2,memory=2Gi")
    docs = kustomize(gitops / "apps/orders/overlays/prod")
    pods = {d["kind"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")}
    assert set(pods) == {"Deployment", "Job"}
    for kind, pod in pods.items():
        assert restricted(pod, kind) == [] and missing_resources(pod, kind) == []
        assert (
            pod["securityContext"]["runAsUser"] == 1000
            and pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        )
    assert pods["Deployment"]["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    old = next(
        d
        for d in yaml.safe_load_all((FIXTURE / "gitops/apps/orders/base/post-sync-test.yaml").read_text())
        if d["kind"] == "Job"
    )["spec"]["template"]["spec"]
    assert (
        "Job: containers[post-sync-test].securityContext.runAsNonRoot (or the pod's) must be true"
        in restricted(old, "Job")
    )


def test_the_schemas_ship_with_pipekit(
    master: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also: no schema check is skipped without PIPEKIT_SCHEMAS_DIR;
    the shipped copies are the public ones."""
    service, gitops, _ = master
    monkeypatch.delenv(schemas.ENV, raising=False)
    result = onboard(service, gitops)
    assert not result.skipped_checks and {
        "bitbucket-pipelines.yml schema",
        "kustomization schema",
        "Argo CD manifests",
    } <= set(result.checks)
    for name in (schemas.BITBUCKET, schemas.KUSTOMIZATION):
        assert json.loads((schemas.SHIPPED / name).read_text()) == json.loads((SCHEMAS / name).read_text())
    derived = schemas.derive(json.loads((SCHEMAS / schemas.ARGOCD).read_text()))
    assert json.loads((schemas.SHIPPED / schemas.ARGOCD_SHAPES_FILE).read_text()) == derived
    assert "Apache License" in (schemas.SHIPPED / "LICENSES.md").read_text()
    typo = yaml.safe_load((gitops / "argocd/orders/apps/orders-dev.yaml").read_text())
    typo["spec"]["syncPolicy"]["automatic"] = typo["spec"]["syncPolicy"].pop("automated")
    body = {k: v for k, v in typo.items() if k not in ("apiVersion", "kind")}
    with pytest.raises(jsonschema.ValidationError, match="automatic"):
        schemas.argocd_validator(schemas.SHIPPED, "Application").validate(body)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--branch", "release"), "--branch release: no such branch in the service repository"),
        (("--gitops-branch", "develop"), "--gitops-branch develop: no such branch in the GitOps checkout"),
        (("--jira-project", "ord-1"), "--jira-project 'ord-1' is not a Jira project key"),
        (
            ("--test-results-s3", "https://acme-results.s3.amazonaws.com/x"),
            "--test-results-s3 'https://acme-results.s3.amazonaws.com/x' is not an S3 URL",
        ),
        (("--test-results-s3", "s3://Acme_Results/x"), "is not an S3 URL"),
        (("--requests", "cpu=lots,memory=1Gi"), "--requests 'cpu=lots,memory=1Gi': expected cpu=QUANTITY"),
    ],
)
def test_bad_input_exits_2_naming_it_and_writes_nothing(
    master: tuple[Path, Path, Path], args: tuple[str, ...], named: str
) -> None:
    service, gitops, _ = master
    before = tree_hashes(service, gitops)
    proc = cli(service, "--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE, *args)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert tree_hashes(service, gitops) == before


@pytest.mark.slow
def test_a_second_service_joins_the_gitops_repository(
    master: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Two services in one GitOps repository: the second's onboarding touches nothing of the first's."""
    service, _, bare = master
    assert init(service, service="orders", gitops_repo=GITOPS_URL, image_repo=IMAGE).status == "written"
    first = (
        git("rev-parse", "master:apps/orders", cwd=bare),
        git("rev-parse", "master:argocd/orders", cwd=bare),
    )
    payments = repo(tmp_path / "payments", "master")
    result = init(
        payments,
        service="payments",
        gitops_repo=GITOPS_URL,
        image_repo="123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments",
    )
    assert result.status == "written"
    assert (
        git("rev-parse", "master:apps/orders", cwd=bare),
        git("rev-parse", "master:argocd/orders", cwd=bare),
    ) == first
    assert set(git("ls-tree", "--name-only", "master:apps", cwd=bare).split()) == {"orders", "payments"}


@pytest.mark.slow
def test_check_lists_the_repository_settings_the_pipeline_lacks(master: tuple[Path, Path, Path]) -> None:
    """Item 7: with a Bitbucket token, --check reads the repository's settings and names what is missing."""
    from pipekit.testing.bitbucket_config import BitbucketSettingsStandIn

    service, gitops, _ = master
    git("remote", "add", "origin", "git@bitbucket.org:acme/orders.git", cwd=service)
    onboard(service, gitops, jira_project="ORD")
    proc = cli(service, "--check", "--gitops-dir", str(gitops))
    assert (
        proc.returncode == 0
        and "skipped: repository settings (no PIPEKIT_BITBUCKET_TOKEN" in proc.stdout + proc.stderr
    )
    with BitbucketSettingsStandIn("acme", "orders", token="bb-token") as bb:
        bb.variables.update(
            AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci",
            PIPEKIT_GITOPS_TOKEN=None,
            ARGOCD_SERVER="argocd.example.com",
        )
        bb.workspace_variables["PIPEKIT_TEAMS_WEBHOOK_URL"] = None
        for env in ("dev", "qa", "preprod"):  # prod not created yet
            bb.environment(env, {"ARGOCD_AUTH_TOKEN": None, "JIRA_PAT": None} if env != "preprod" else {})
        env = {"PIPEKIT_BITBUCKET_API_URL": bb.url, "PIPEKIT_BITBUCKET_TOKEN": "bb-token"}
        proc = run_pipekit("init", "--check", "--gitops-dir", str(gitops), cwd=service, env=env)
        assert any("/environments" in r for r in bb.requests) and any("page=2" in r for r in bb.requests)
    assert proc.returncode == 1, (proc.stdout, proc.stderr, bb.requests)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert lines[:-1] == [
        "ERROR: Bitbucket deployment environment 'prod' does not exist: create it (Repository settings > "
        "Deployments) before the pipeline's first run",
        "ERROR: ARGOCD_AUTH_TOKEN is not a repository or workspace variable, nor a deployment variable of "
        "preprod: an Argo CD token that may read (and refresh) the applications, needed by the deploy steps",
        "ERROR: JIRA_BASE_URL is not a repository or workspace variable, nor a deployment variable of dev, "
        "qa, preprod: the Jira site of qa's gate, needed by the deploy steps",
        "ERROR: JIRA_API_TOKEN+JIRA_USER_EMAIL or JIRA_PAT is not a repository or workspace variable, nor a "
        "deployment variable of preprod: Jira credentials of qa's gate, needed by the deploy steps",
    ], proc.stderr
    assert "bb-token" not in proc.stdout + proc.stderr
