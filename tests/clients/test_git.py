"""Credentials for the GitOps repo: GIT_ASKPASS from PIPEKIT_GITOPS_TOKEN, never in argv,
config, files or output."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.clients.git import ASKPASS_SCRIPT, Git, Workspace, cone_patterns, remote_url
from pipekit.core.errors import BadInput, ExternalError
from tests.conftest import REPO_ROOT
from tests.fixtures.gitops.http_git import serve
from tests.fixtures.gitops.repo import IMAGE, make_repo, read

TOKEN = "bbtok-Zq8WsecretValue-93kd"


def all_text_under(root: Path) -> str:
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def test_askpass_script_holds_no_secret_and_is_private() -> None:
    with Workspace({"PIPEKIT_GITOPS_TOKEN": TOKEN, "PATH": os.environ["PATH"]}) as ws:
        askpass = Path(ws.env["GIT_ASKPASS"])
        assert askpass.read_text() == ASKPASS_SCRIPT and TOKEN not in ASKPASS_SCRIPT
        assert stat.S_IMODE(askpass.stat().st_mode) == 0o700
        assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700

        def ask(prompt: str) -> str:
            return subprocess.run(
                [str(askpass), prompt], env=ws.env, capture_output=True, text=True, check=True
            ).stdout

        assert ask("Username for 'https://bitbucket.org': ") == "x-token-auth\n"
        assert ask("Password for 'https://x-token-auth@bitbucket.org': ") == TOKEN + "\n"
    assert not ws.root.exists()


def test_no_token_no_askpass() -> None:
    with Workspace({"PATH": os.environ["PATH"]}) as ws:
        assert "GIT_ASKPASS" not in ws.env and not (ws.root / "askpass.sh").exists()
        assert ws.env["GIT_TERMINAL_PROMPT"] == "0"


def test_password_in_url_is_refused() -> None:
    with pytest.raises(BadInput, match="contains a password"):
        remote_url("https://x-token-auth:hunter22@bitbucket.org/acme/gitops.git")
    assert remote_url("/tmp/x.git") == "file:///tmp/x.git"
    assert remote_url("git@bitbucket.org:acme/gitops.git") == "git@bitbucket.org:acme/gitops.git"


@pytest.mark.slow
def test_clone_over_https_uses_askpass_and_keeps_the_token_out_of_config(tmp_path: Path) -> None:
    bare, _ = make_repo(tmp_path, ["orders"])
    with serve(tmp_path, "x-token-auth", TOKEN) as srv:
        with Workspace(
            {"PIPEKIT_GITOPS_TOKEN": TOKEN, "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        ) as ws:
            git = Git.clone(f"{srv.url}/gitops.git", ws.repo, branch="main", sparse=["orders"], env=ws.env)
            assert (ws.repo / "orders/overlays/dev/kustomization.yaml").is_file()
            assert TOKEN not in all_text_under(ws.repo / ".git")
            assert TOKEN not in (ws.repo / ".git/config").read_text()
            assert all(TOKEN not in " ".join(argv) for argv in git.calls)
            clone = [argv for argv in git.calls if "clone" in argv]
            assert len(clone) == 1 and "credential.helper=" in clone[0]
            assert (ws.repo / ".git/info/sparse-checkout").read_text() == "/*\n!/*/\n/orders/\n"
    assert srv.auth_headers, "the server never saw credentials"
    assert not (tmp_path / ".git-credentials").exists()


@pytest.mark.slow
def test_wrong_token_is_an_external_error_without_the_token(tmp_path: Path) -> None:
    make_repo(tmp_path, ["orders"])
    with serve(tmp_path, "x-token-auth", "the-right-one") as srv:
        with Workspace({"PIPEKIT_GITOPS_TOKEN": TOKEN, "PATH": os.environ["PATH"]}) as ws:
            with pytest.raises(ExternalError) as err:
                Git.clone(f"{srv.url}/gitops.git", ws.repo, branch="main", sparse=["orders"], env=ws.env)
    assert "Authentication failed" in str(err.value) and TOKEN not in str(err.value)


def git_shim(tmp_path: Path) -> tuple[Path, Path]:
    """A `git` first on PATH that logs every argv, then runs the real git."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    bindir = tmp_path / "shim"
    bindir.mkdir()
    log = tmp_path / "git-argv.log"
    shim = bindir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    return bindir, log


@pytest.mark.slow
@pytest.mark.parametrize("right", [True, False])
def test_update_tag_over_https_never_shows_the_token(tmp_path: Path, right: bool) -> None:
    """End to end, debug on: the token is in no argv, no output, and a bad token exits 3."""
    bare, _ = make_repo(tmp_path, ["orders"])
    bindir, log = git_shim(tmp_path)
    with serve(tmp_path, "x-token-auth", TOKEN if right else "another-token") as srv:
        env = dict(
            os.environ,
            PIPEKIT_GITOPS_TOKEN=TOKEN,
            PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
            PYTHONPATH=str(REPO_ROOT),
            PIPEKIT_DEBUG="1",
            HOME=str(tmp_path),
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipekit.update_tag",
                "--gitops-repo",
                f"{srv.url}/gitops.git",
                "--path",
                "orders/overlays/dev",
                "--image",
                IMAGE.format(service="orders"),
                "--tag",
                "7777777",
                "--renderer",
                "none",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = proc.stdout + proc.stderr
    argv_log = log.read_text()
    assert "clone" in argv_log and TOKEN not in argv_log
    assert TOKEN not in output
    if right:
        assert proc.returncode == 0, output
        assert 'newTag: "7777777"' in read(bare, "orders/overlays/dev/kustomization.yaml")
        assert "push" in argv_log
    else:
        assert proc.returncode == 3, output
        assert "Authentication failed" in output
        assert 'newTag: "0000001"' in read(bare, "orders/overlays/dev/kustomization.yaml")


def test_cone_patterns_match_what_git_writes(tmp_path: Path) -> None:
    bare, _ = make_repo(tmp_path, ["orders"])
    dirs = ["orders/overlays/dev", "orders/base", "components/tls", "orders/overlays/dev/extra"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", "--sparse", str(bare), str(clone)], check=True)
    subprocess.run(["git", "sparse-checkout", "set", "--cone", *dirs], cwd=clone, check=True)
    assert cone_patterns(dirs) == (clone / ".git/info/sparse-checkout").read_text()


@pytest.mark.slow
def test_missing_git_is_bad_input_naming_its_package_and_a_hung_git_is_a_timeout(tmp_path: Path) -> None:
    from pipekit.core.errors import TimedOut

    with pytest.raises(BadInput, match="git not found on PATH: install Debian package git"):
        Git(tmp_path, {"PATH": "/nonexistent"}).run("status")
    hang = tmp_path / "bin"
    hang.mkdir()
    (hang / "git").write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    (hang / "git").chmod(0o755)
    with pytest.raises(TimedOut, match="git status did not finish within 0.5 s"):
        Git(tmp_path, {"PATH": str(hang)}).run("status", timeout=0.5)
