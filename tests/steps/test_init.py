"""pipekit init against a real git service repository and real GitOps repositories
(a checkout, a bare one)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipekit.core.step import StepContext
from pipekit.init import InitOptions, run
from tests.conftest import SCHEMAS, git, load_schema, run_pipekit
from tests.fixtures.gitops.repo import make_repo

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
ENVS = ("dev", "qa", "preprod", "prod")
GITOPS_URL = "https://bitbucket.example.com/acme/gitops.git"  # served from a local bare repository


@pytest.fixture
def repos(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    return make_repos(tmp_path, git_repo, monkeypatch)


def make_repos(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(service repository, GitOps checkout with an origin, the bare GitOps repository).

    The GitOps repository has a real URL, GITOPS_URL, as a team's has: git fetches and pushes it
    from the local bare repository (``url.<bare>.insteadOf``), so what init writes for Argo CD is
    that URL, and every git command (init's, update-tag's) reaches the repository through it."""
    monkeypatch.chdir(git_repo)
    bare, _seed = make_repo(tmp_path, [])
    serve_url(tmp_path, {GITOPS_URL: bare}, monkeypatch)
    work = tmp_path / "gitops"
    git("clone", "-q", GITOPS_URL, str(work), cwd=tmp_path)
    git("config", "user.email", "ops@example.com", cwd=work)
    git("config", "user.name", "Ops", cwd=work)
    return git_repo, work, bare


def serve_url(tmp_path: Path, urls: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """git reaches each URL at its local repository (a global git config of ``insteadOf`` rules)."""
    config = tmp_path / "gitconfig"
    config.write_text(
        "".join(f'[url "{repo.as_uri()}"]\n\tinsteadOf = {url}\n' for url, repo in urls.items())
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))


def tree_hashes(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and ".git" not in path.relative_to(root).parts:
                out[f"{root.name}/{path.relative_to(root)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def init(service_dir: Path, **kw: object) -> object:
    ctx = StepContext.create(env=dict(os.environ), cwd=service_dir)
    options = InitOptions(service_dir=service_dir, **kw)  # type: ignore[arg-type]
    return run(options, ctx)


def cli(service_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pipekit("init", *args, cwd=service_dir)


def kustomize(directory: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.slow
def test_init_writes_every_file_valid_and_rendered(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _bare = repos
    result = init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE)
    assert result.status == "written" and not result.problems and not result.skipped_checks  # type: ignore[attr-defined]

    pipeline = yaml.safe_load((service / "bitbucket-pipelines.yml").read_text())
    jsonschema.Draft7Validator(load_schema("bitbucket-pipelines.schema.json")).validate(pipeline)
    assert pipeline["image"] == {
        "name": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pipekit-base:0.1.0-jdk17",
        "aws": {"oidc-role": "$AWS_ROLE_ARN"},
    }  # ECR: pulled with the OIDC role
    main = pipeline["pipelines"]["branches"]["main"]  # the service repository's branch
    assert [s["step"]["name"] for s in main[0]["parallel"]] == ["Unit tests", "SAST", "SCA"]
    names = [s["step"]["name"] for s in main[1:]]
    assert names == [
        "Security gate",
        "Build and push image",
        "Deploy to dev",
        "Promote to qa",
        "Promote to preprod",
        "Promote to prod",
    ]
    steps = {s["step"]["name"]: s["step"] for s in main[1:]}
    build = steps["Build and push image"]
    assert (
        build["oidc"] is True
        and build["services"] == ["docker"]
        and build["caches"] == ["maven-repo", "docker"]
    )
    assert build["script"] == [
        'pipekit build --maven-args "-DskipTests"',
        "pipekit ecr-push --create-repository",
    ]
    assert "trigger" not in steps["Promote to qa"]
    assert steps["Promote to qa"]["script"][0] == "pipekit promote --from dev --to qa --service orders"
    for env in ("preprod", "prod"):
        step = steps[f"Promote to {env}"]
        assert step["trigger"] == "manual" and step["deployment"] == env and "--approve" in step["script"][0]
    for step in steps.values():
        assert ".pipekit/run.json" in step.get("artifacts", [])
        assert step["after-script"][0].startswith("pipekit notify --event auto")
    for kind in ("default", "pull-requests"):
        other = pipeline["pipelines"][kind] if kind == "default" else pipeline["pipelines"][kind]["**"]
        assert [s["step"]["name"] for s in other] == ["Build and unit tests", "Security gate"]
        scripts = " ".join(" ".join(s["step"]["script"]) for s in other)
        assert "ecr-push" not in scripts and "update-tag" not in scripts

    config = yaml.safe_load((service / "pipekit.yaml").read_text())
    assert config["environments"] == {
        "dev": {"promotion": "auto"},
        "qa": {"promotion": "auto"},  # no Jira project
        "preprod": {"promotion": "manual"},
        "prod": {"promotion": "manual"},
    }
    assert (
        config["gitops"]["overlay"] == "apps/{service}/overlays/{env}" and config["gitops"]["image"] == IMAGE
    )
    assert config["gitops"]["repo"] == GITOPS_URL

    kschema = jsonschema.Draft7Validator(load_schema("kustomization.schema.json"))
    for path in (gitops / "apps/orders").rglob("kustomization.yaml"):
        kschema.validate(yaml.safe_load(path.read_text()))
    for env in ENVS:
        docs = kustomize(gitops / f"apps/orders/overlays/{env}")
        assert {d["metadata"]["namespace"] for d in docs} == {f"orders-{env}"}
        deploy = next(d for d in docs if d["kind"] == "Deployment")
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == f"{IMAGE}:pending"
        assert container["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
        assert container["livenessProbe"]["httpGet"]["path"] == "/actuator/health/liveness"
        job = next(d for d in docs if d["kind"] == "Job")
        assert job["metadata"]["annotations"] == {
            "argocd.argoproj.io/hook": "PostSync",
            "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
        }
        assert (
            job["spec"]["backoffLimit"] == 0
            and 0 < job["spec"]["activeDeadlineSeconds"] < config["argocd"]["timeout"]
        )
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "orders-post-sync-test"
        assert pod["containers"][0]["image"] == pipeline["image"]["name"]
        command = pod["containers"][0]["command"]
        assert command == [
            "pipekit",
            "post-sync-test",
            "--wait-ready",
            "deployment/orders",
            "--junit-dir",
            "/reports",
            "--health-url",
            "http://orders/actuator/health/readiness",
        ]
        role = next(d for d in docs if d["kind"] == "Role")
        assert sorted(
            (tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]
        ) == [
            (("",), ("pods",), ("get", "list", "watch")),
            (("apps",), ("deployments", "replicasets"), ("get", "list", "watch")),
        ]
        binding = next(d for d in docs if d["kind"] == "RoleBinding")
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "orders-post-sync-test", "namespace": f"orders-{env}"}
        ]
        assert {d["kind"] for d in docs} == {
            "Deployment",
            "Service",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "Job",
            "ServiceMonitor",
            "PrometheusRule",
        }

    swagger = json.loads((SCHEMAS / "argocd-v3.5.1-swagger.json").read_text())
    apps = gitops / "argocd/orders"
    for env in ENVS:
        app = yaml.safe_load((apps / f"apps/orders-{env}.yaml").read_text())
        assert app["kind"] == "Application" and app["metadata"]["finalizers"] == [
            "resources-finalizer.argocd.argoproj.io"
        ]
        assert app["spec"]["source"]["path"] == f"apps/orders/overlays/{env}"
        assert app["spec"]["destination"]["namespace"] == f"orders-{env}"
        _validate_swagger(swagger, "v1alpha1Application", app)
    project = yaml.safe_load((apps / "apps/project.yaml").read_text())
    _validate_swagger(swagger, "v1alpha1AppProject", project)
    assert project["spec"]["sourceRepos"] == [config["gitops"]["repo"]]
    assert [d["namespace"] for d in project["spec"]["destinations"]] == [f"orders-{e}" for e in ENVS]
    parent = yaml.safe_load((apps / "app-of-apps.yaml").read_text())
    _validate_swagger(swagger, "v1alpha1Application", parent)
    assert parent["spec"]["source"]["path"] == "argocd/orders/apps"

    recorded = yaml.safe_load((service / ".pipekit/init.yaml").read_text())
    assert recorded["pipekit_version"] == "0.1.0" and recorded["answers"]["service"] == "orders"


def _validate_swagger(swagger: dict, name: str, doc: dict) -> None:
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
    jsonschema.Draft4Validator(
        {"$ref": f"#/definitions/{name}", "definitions": swagger["definitions"]}
    ).validate(body)
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"


@pytest.mark.slow
def test_same_answers_twice_change_nothing(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    args = ("--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE)
    assert cli(service, *args).returncode == 0
    before = tree_hashes(service, gitops)
    # 16 files and 12 of the alerts (rule, ServiceMonitor, 4 patches, 4 tests, routing,
    # runbook), their baselines, the record, two READMEs
    assert len(before) == 2 * (16 + 12) + 1 + 2
    proc = cli(service, *args)
    assert proc.returncode == 0, proc.stderr
    assert "nothing changed" in proc.stdout
    assert tree_hashes(service, gitops) == before
    assert (
        cli(service, "--gitops-dir", str(gitops)).returncode == 0
    )  # the recorded answers are the same answers
    assert tree_hashes(service, gitops) == before


@pytest.mark.slow
def test_hand_edited_file_is_left_alone_unless_force(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    args = ("--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE)
    assert cli(service, *args).returncode == 0
    deployment = gitops / "apps/orders/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 2", "replicas: 5"))
    before = tree_hashes(service, gitops)
    proc = cli(service, *args, "--jdk", "21")  # a changed answer: the other files would change too
    assert proc.returncode == 1
    assert "edited by hand, left alone: gitops:apps/orders/base/deployment.yaml" in proc.stderr
    assert "-  replicas: 5\n+  replicas: 2" in proc.stdout + proc.stderr
    assert tree_hashes(service, gitops) == before  # nothing written at all
    proc = cli(service, *args, "--jdk", "21", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "replicas: 2" in deployment.read_text()
    assert "pipekit-base:0.1.0-jdk21" in (service / "bitbucket-pipelines.yml").read_text()


def test_changed_answers_update_files_still_as_generated(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    assert init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE).status == "written"  # type: ignore[attr-defined]
    result = init(service, gitops_dir=gitops, environments=("dev", "prod"))
    assert result.status == "written"  # type: ignore[attr-defined]
    assert result.files["gitops:apps/orders/overlays/qa/kustomization.yaml"] == "remove"  # type: ignore[attr-defined]
    assert sorted(p.name for p in (gitops / "apps/orders/overlays").iterdir()) == ["dev", "prod"]
    assert sorted(p.name for p in (gitops / "argocd/orders/apps").iterdir()) == [
        "orders-dev.yaml",
        "orders-prod.yaml",
        "project.yaml",
    ]
    assert not (service / ".pipekit/init/gitops/apps/orders/overlays/qa").exists()
    text = (service / "bitbucket-pipelines.yml").read_text()
    assert "pipekit promote --from dev --to prod --service orders --approve" in text and "--to qa" not in text


@pytest.mark.slow
def test_dry_run_prints_the_full_diff_and_writes_nothing(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    before = tree_hashes(service, gitops)
    proc = cli(
        service, "--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE, "--dry-run"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert (
        "+++ b/bitbucket-pipelines.yml" in out and "+++ b/gitops:apps/orders/base/post-sync-test.yaml" in out
    )
    assert "+    argocd.argoproj.io/hook: PostSync" in out
    assert tree_hashes(service, gitops) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--service", "Orders_Svc"), "--service 'Orders_Svc' is not a DNS-1123 label"),
        (("--service", "orders", "--environments", "dev,staging"), "unknown environment 'staging'"),
        (("--service", "orders", "--image-repo", "ECR/Orders:latest"), "--image-repo 'ECR/Orders:latest'"),
        (
            ("--service", "orders", "--image-repo", "registry.example.com/Orders"),
            "not a valid image reference",
        ),
        (("--service", "orders", "--jdk", "11"), "--jdk"),
        (
            ("--service", "orders", "--gitops-repo", "https://bot:s3cr3t@bitbucket.org/acme/gitops.git"),
            "the GitOps repository URL carries credentials",
        ),
        (
            ("--service", "orders", "--suite-command", "mvn -q 'verify"),
            '--suite-command "mvn -q \'verify": No closing',
        ),
        (("--service", "orders", "--suite-command", "  "), "--suite-command is empty"),
    ],
)
def test_bad_input_exits_2_naming_it_and_writes_nothing(
    repos: tuple[Path, Path, Path], args: tuple[str, ...], named: str
) -> None:
    service, gitops, _ = repos
    before = tree_hashes(service, gitops)
    where = () if "--gitops-repo" in args else ("--gitops-dir", str(gitops))
    proc = cli(service, *args, *where)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr and "s3cr3t" not in proc.stderr + proc.stdout
    assert tree_hashes(service, gitops) == before


@pytest.mark.slow
def test_suite_command_is_the_post_sync_jobs_command_word_for_word(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    suite = "mvn -o -B verify -Papi-tests '-Dapi.url=http://orders:8080/api v1'"
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--image-repo",
        IMAGE,
        "--suite-command",
        suite,
    )
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all((gitops / "apps/orders/base/post-sync-test.yaml").read_text()))
    (job,) = [d for d in docs if d["kind"] == "Job"]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == [
        "pipekit",
        "post-sync-test",
        "--wait-ready",
        "deployment/orders",
        "--junit-dir",
        "/reports",
        "--",
        "mvn",
        "-o",
        "-B",
        "verify",
        "-Papi-tests",
        "-Dapi.url=http://orders:8080/api v1",
    ]
    recorded = yaml.safe_load((service / ".pipekit/init.yaml").read_text())
    assert recorded["answers"]["suite"] == command[7:]  # kept for --upgrade


@pytest.mark.slow
def test_check_runs_the_same_checks_on_existing_files(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    assert (
        cli(service, "--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE).returncode
        == 0
    )
    proc = cli(service, "--check", "--gitops-dir", str(gitops))
    assert proc.returncode == 0, proc.stderr
    assert "7 checks passed" in proc.stdout and "kustomize renders (4)" in proc.stdout
    pipeline = service / "bitbucket-pipelines.yml"
    pipeline.write_text(pipeline.read_text().replace("--create-repository", "--create-repo"))
    overlay = gitops / "apps/orders/overlays/qa/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace(f"- name: {IMAGE}", "- name: somebody/else"))
    proc = cli(service, "--check", "--gitops-dir", str(gitops))
    assert proc.returncode == 1
    assert "'pipekit ecr-push --create-repo': no such flag" in proc.stderr
    assert f"apps/orders/overlays/qa: the rendered Deployment orders does not run {IMAGE}" in proc.stderr


@pytest.mark.slow
def test_gitops_repo_commits_with_trailers_and_pushes(repos: tuple[Path, Path, Path]) -> None:
    service, _, bare = repos
    start = git("rev-parse", "main", cwd=bare)
    result = init(service, service="orders", gitops_repo=GITOPS_URL, image_repo=IMAGE)
    assert result.status == "written" and result.gitops_revision == git("rev-parse", "main", cwd=bare)  # type: ignore[attr-defined]
    assert git("rev-parse", "main^", cwd=bare) == start
    body = git("log", "-1", "--format=%B", "main", cwd=bare)
    assert body.startswith("orders: onboard with pipekit init 0.1.0")
    assert "Pipekit-Service: orders" in body and "Pipekit-Init-Version: 0.1.0" in body
    files = git("ls-tree", "-r", "--name-only", "main", cwd=bare).splitlines()
    assert (
        "apps/orders/overlays/prod/kustomization.yaml" in files and "argocd/orders/apps/project.yaml" in files
    )
    assert yaml.safe_load((service / ".pipekit/init.yaml").read_text())["gitops_repo"] == GITOPS_URL
    again = init(service)  # the recorded repository, the recorded answers
    assert again.status == "unchanged" and git("rev-parse", "main", cwd=bare) == result.gitops_revision  # type: ignore[attr-defined]
    checked = init(service, check=True)  # checks the files in a fresh clone
    assert checked.status == "checked" and not checked.problems and len(checked.checks) == 7  # type: ignore[attr-defined]


@pytest.mark.slow
def test_gitops_repo_push_race_is_retried_on_the_fresh_tip(
    repos: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, other, bare = repos
    from pipekit.onboarding import apply

    real = apply.prepare
    calls = {"n": 0}

    def racing(*args: object, **kw: object) -> apply.Prepared:
        calls["n"] += 1
        if calls["n"] == 1:  # another service is onboarded between our clone and our push
            (other / "apps/payments").mkdir(parents=True)
            (other / "apps/payments/README.md").write_text("payments\n")
            git("add", ".", cwd=other)
            git("commit", "-qm", "payments: onboard", cwd=other)
            git("push", "-q", "origin", "main", cwd=other)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(apply, "prepare", racing)
    result = init(service, service="orders", gitops_repo=GITOPS_URL, image_repo=IMAGE)
    assert result.status == "written" and result.retries == 1 and calls["n"] == 2  # type: ignore[attr-defined]
    assert git("log", "-2", "--format=%s", "main", cwd=bare).splitlines() == [
        "orders: onboard with pipekit init 0.1.0",
        "payments: onboard",
    ]


@pytest.mark.slow
def test_check_names_the_overlay_that_does_not_render(repos: tuple[Path, Path, Path]) -> None:
    """The overlays render in one kustomize run; a failure is rendered again alone to name its overlay."""
    service, gitops, _ = repos
    assert init(service, service="orders", gitops_dir=gitops, image_repo=IMAGE).status == "written"  # type: ignore[attr-defined]
    prod = gitops / "apps/orders/overlays/prod/kustomization.yaml"
    prod.write_text(prod.read_text().replace("../../base", "../../basis"))
    qa = gitops / "apps/orders/overlays/qa/kustomization.yaml"
    qa.write_text(qa.read_text().replace("namespace: orders-qa", "namespace: orders-dev"))  # shared namespace
    proc = cli(service, "--check", "--gitops-dir", str(gitops))
    assert proc.returncode == 1
    assert "apps/orders/overlays/prod: kustomize cannot render the overlay" in proc.stderr
    assert "overlays/dev:" not in proc.stderr and "overlays/qa:" not in proc.stderr  # the others still pass


@pytest.mark.slow
def test_update_tag_finds_the_overlay_init_wrote(repos: tuple[Path, Path, Path]) -> None:
    """The generated pipekit.yaml is all update-tag needs: repo, overlay template, image name."""
    service, _, bare = repos
    assert init(service, service="orders", gitops_repo=GITOPS_URL, image_repo=IMAGE).status == "written"  # type: ignore[attr-defined]
    proc = run_pipekit(
        "update-tag", "--env", "dev", "--tag", "1a2b3c4", "--build-number", "7", "--json", cwd=service
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["overlay"] == "apps/orders/overlays/dev"
    overlay = subprocess.run(
        ["git", "show", "main:apps/orders/overlays/dev/kustomization.yaml"],
        cwd=bare,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "1a2b3c4" in overlay and "pending" not in overlay
    assert (
        "replicas:" not in overlay and "pipekit:placeholder" not in overlay
    )  # a real image: pods may run (item 10)
    head = git("rev-parse", "main", cwd=bare)
    again = init(service)  # dev's image is the pipeline's, not a hand edit: init sees nothing to change
    assert again.status == "unchanged" and git("rev-parse", "main", cwd=bare) == head  # type: ignore[attr-defined]
    assert (
        git("log", "-1", "--format=%(trailers:key=Pipekit-Environment,valueonly)", "main", cwd=bare) == "dev"
    )
