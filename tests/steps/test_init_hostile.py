"""pipekit init against hostile inputs (issue 23, items 1, 2, 3, 12, 13, 18): a symlink out of the
GitOps clone, another service's baselines, credentials in the GitOps URL, shell-hostile suite
arguments, and an answers file that is not what init wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import git
from tests.steps.test_init import GITOPS_URL, IMAGE, cli, make_repos, tree_hashes


@pytest.fixture
def repos(tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    return make_repos(tmp_path, git_repo, monkeypatch)


def _outside(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / "base").mkdir(parents=True)
    (victim / "base" / "kustomization.yaml").write_text("precious: true\n")
    return victim


@pytest.mark.slow
def test_gitops_repo_symlink_out_of_the_clone_is_refused_writing_nothing(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    service, work, bare = repos
    victim = _outside(tmp_path)
    (work / "apps").mkdir()
    (work / "apps" / "orders").symlink_to(victim)
    git("add", ".", cwd=work)
    git("commit", "-qm", "a link out", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    before = tree_hashes(service, victim)
    start = git("rev-parse", "main", cwd=bare)
    for extra in ((), ("--force",)):
        proc = cli(service, "--service", "orders", "--gitops-repo", GITOPS_URL, "--image-repo", IMAGE, *extra)
        assert proc.returncode == 2, proc.stderr
        assert "apps/orders" in proc.stderr and "leads out of the clone" in proc.stderr
        assert (
            tree_hashes(service, victim) == before
        )  # nothing outside written, nothing in the service either
        assert git("rev-parse", "main", cwd=bare) == start


def test_gitops_dir_symlink_out_of_the_checkout_is_refused_writing_nothing(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    service, work, _ = repos
    victim = _outside(tmp_path)
    (work / "argocd").mkdir()
    (work / "argocd" / "orders").symlink_to(victim)
    before = tree_hashes(service, victim)
    proc = cli(service, "--service", "orders", "--gitops-dir", str(work), "--image-repo", IMAGE, "--force")
    assert proc.returncode == 2, proc.stderr
    assert "argocd/orders" in proc.stderr and "leads out of" in proc.stderr
    assert tree_hashes(service, victim) == before
    assert not (work / "apps").exists()


@pytest.mark.slow
def test_baselines_of_another_service_are_refused_and_its_files_stay(repos: tuple[Path, Path, Path]) -> None:
    service, work, _ = repos
    # billing was onboarded in the same GitOps checkout
    billing = service.parent / "billing"
    billing.mkdir()
    git("init", "-q", "-b", "main", cwd=billing)
    assert (
        cli(
            billing, "--service", "billing", "--gitops-dir", str(work), "--image-repo", IMAGE + "-b"
        ).returncode
        == 0
    )
    # someone copies billing's .pipekit/init/ baselines into orders' repository
    src = billing / ".pipekit" / "init" / "gitops"
    for path in src.rglob("*"):
        if path.is_file():
            dest = service / ".pipekit" / "init" / "gitops" / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    before = tree_hashes(work)
    proc = cli(service, "--service", "orders", "--gitops-dir", str(work), "--image-repo", IMAGE)
    assert proc.returncode == 2, proc.stderr
    assert (
        ".pipekit/init/gitops/apps/billing/" in proc.stderr
        and "apps/orders/ and argocd/orders/" in proc.stderr
    )
    assert tree_hashes(work) == before
    assert (work / "apps" / "billing" / "base" / "deployment.yaml").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "https://TOKENabc123def456ghi789@bitbucket.org/acme/gitops.git",
        "ssh://git:PASSWORDxyz987@bitbucket.org/acme/gitops.git",
        "https://x-token-auth:TOKENabc123def456@bitbucket.org/acme/gitops.git",
    ],
)
def test_credentials_in_the_gitops_url_are_refused_and_masked(
    repos: tuple[Path, Path, Path], url: str
) -> None:
    service, _, _ = repos
    before = tree_hashes(service)
    proc = cli(service, "--service", "orders", "--gitops-repo", url, "--image-repo", IMAGE)
    assert proc.returncode == 2, proc.stderr
    assert "carries credentials" in proc.stderr and "***@bitbucket.org" in proc.stderr
    for secret in ("TOKENabc123", "PASSWORDxyz987"):
        assert secret not in proc.stderr + proc.stdout
    assert tree_hashes(service) == before


def test_a_plain_user_name_in_the_gitops_url_is_fine() -> None:
    from pipekit.onboarding.answers import Answers, validate

    for url in (
        "ssh://git@bitbucket.org/acme/gitops.git",
        "git@bitbucket.org:acme/gitops.git",
        "https://dana@bitbucket.org/acme/gitops.git",
        "https://bitbucket.org/acme/gitops.git",
    ):
        validate(Answers(service="orders", image_repo=IMAGE, gitops_url=url))


def test_a_malformed_gitops_url_is_bad_input_not_a_crash(repos: tuple[Path, Path, Path]) -> None:
    service, _, _ = repos
    proc = cli(
        service, "--service", "orders", "--gitops-repo", "https://u:pw@[::1/x.git", "--image-repo", IMAGE
    )
    assert proc.returncode == 2, proc.stderr
    assert "not a valid URL" in proc.stderr and ":pw@" not in proc.stderr


HOSTILE = [
    "@smoke",
    "{a: b}",
    "-",
    "- x",
    "key: value",
    ":",
    "a:b",
    "[1, 2]",
    "*alias",
    "&anchor",
    "!tag",
    "#hash",
    "%dir",
    "'quoted'",
    '"dq"',
    "yes",
    "null",
    "~",
    "1e3",
    "0x1F",
    "--opt={x}",
    "|",
    ">",
    "`tick`",
    "tab\there",
    "ünïcode",
    "back\\slash",
    "$(echo hi)",
    "${VAR}",
]


@pytest.mark.slow
def test_suite_arguments_round_trip_through_kustomize(repos: tuple[Path, Path, Path]) -> None:
    import shlex

    service, gitops, _ = repos
    proc = cli(
        service,
        "--service",
        "orders",
        "--gitops-dir",
        str(gitops),
        "--image-repo",
        IMAGE,
        "--suite-command",
        shlex.join(["run-tests", *HOSTILE]),
    )
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run(
        ["kubectl", "kustomize", str(gitops / "apps/orders/overlays/dev")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (job,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Job"]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--") + 1 :] == ["run-tests", *HOSTILE]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answers", "named"),
    [
        ({"jdk": "abc"}, "answers.jdk"),
        ({"jdk": 1e400}, "answers.jdk"),
        ({"service": 123}, "answers.service: 123 is not of type 'string'"),
        ({"branch": "main\nfoo"}, "answers.branch"),
        ({"environments": "dev"}, "answers.environments"),
        ({"suite": [1, {"a": 1}]}, "answers.suite"),
    ],
)
def test_an_answers_file_init_did_not_write_is_bad_input_naming_the_field(
    repos: tuple[Path, Path, Path], answers: dict, named: str
) -> None:
    service, gitops, _ = repos
    assert (
        cli(service, "--service", "orders", "--gitops-dir", str(gitops), "--image-repo", IMAGE).returncode
        == 0
    )
    record = service / ".pipekit" / "init.yaml"
    data = yaml.safe_load(record.read_text())
    data["answers"].update(answers)
    text = yaml.safe_dump(data)
    record.write_text(text.replace("jdk: .inf", "jdk: 1e400"))
    before = tree_hashes(service, gitops)
    proc = cli(service, "--gitops-dir", str(gitops))
    assert proc.returncode == 2, proc.stderr
    assert ".pipekit/init.yaml" in proc.stderr and named in proc.stderr, proc.stderr
    assert tree_hashes(service, gitops) == before


def test_a_deeply_nested_answers_file_is_bad_input(repos: tuple[Path, Path, Path]) -> None:
    service, gitops, _ = repos
    record = service / ".pipekit" / "init.yaml"
    record.parent.mkdir(parents=True)
    record.write_text("answers: " + "[" * 100_000 + "]" * 100_000 + "\n")
    proc = cli(service, "--gitops-dir", str(gitops))
    assert proc.returncode == 2, proc.stderr
