"""SIGTERM / SIGINT during update-tag's clone or push, against real git with a slow remote.

After any signal: exit 143 / 130, the run record matches what the GitOps repository holds
(pushed with that revision, or not pushed), no git process is left, the temporary clone
(with its askpass helper) is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.fixtures.gitops.repo import IMAGE, git, make_repo

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

ORDERS = IMAGE.format(service="orders")


def slow_hook(path: Path, marker: Path, seconds: float) -> None:
    path.write_text(f"#!/bin/sh\ncat >/dev/null\ntouch '{marker}'\nsleep {seconds}\n")
    path.chmod(0o755)


def start(bare: Path, tmp_path: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    work_tmp = tmp_path / "tmp"
    work_tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        TMPDIR=str(work_tmp),
        PIPEKIT_RUN_RECORD=str(tmp_path / "run.json"),
        PIPEKIT_GITOPS_TOKEN="tok-" + "s" * 20,
        **(extra_env or {}),
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.update_tag",
            "--gitops-repo",
            str(bare),
            "--path",
            "orders/overlays/dev",
            "--image",
            ORDERS,
            "--tag",
            "7654321",
            "--renderer",
            "none",
        ],
        env=env,
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slow remote was never reached"
        time.sleep(0.02)


def git_processes(needle: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if needle in line and "ps -eo" not in line]


def outputs(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run.json").read_text())["steps"]["update_tag"]


def previous_run(tmp_path: Path) -> None:
    """A record from an earlier successful run: its revision must not survive an interrupted one."""
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "update_tag": {
                        "status": "succeeded",
                        "outputs": {"status": "pushed", "gitops_revision": "0" * 40, "tag": "0000001"},
                    }
                },
            }
        )
    )


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_push_records_what_the_remote_holds(tmp_path: Path, sig: int, code: int) -> None:
    bare, _ = make_repo(tmp_path, ["orders"])
    before = git("rev-parse", "main", cwd=bare)
    marker = tmp_path / "push-started"
    slow_hook(bare / "hooks" / "pre-receive", marker, 2)
    previous_run(tmp_path)
    proc = start(bare, tmp_path)
    wait_for(marker, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    after = git("rev-parse", "main", cwd=bare)
    section = outputs(tmp_path)
    assert section["status"] == "interrupted"
    # the push under way was allowed to finish: the remote has the commit, and the record says so
    assert after != before
    assert section["outputs"]["status"] == "pushed"
    assert section["outputs"]["gitops_revision"] == after and section["outputs"]["tag"] == "7654321"
    assert not list((tmp_path / "tmp").iterdir()), "temporary clone left behind"
    assert not git_processes(str(bare))


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_clone_pushes_nothing_and_leaves_no_git(
    tmp_path: Path, sig: int, code: int
) -> None:
    bare, _ = make_repo(tmp_path, ["orders"])
    before = git("rev-parse", "main", cwd=bare)
    marker = tmp_path / "clone-started"
    hook = tmp_path / "slow-pack-objects.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 30\nexec \"$@\"\n")
    hook.chmod(0o755)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    previous_run(tmp_path)
    proc = start(bare, tmp_path, {"GIT_CONFIG_GLOBAL": str(gitconfig)})
    wait_for(marker, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    deadline = time.monotonic() + 15  # the group is killed; on a busy machine the dying takes a moment
    while (git_processes(str(hook)) or git_processes(str(bare))) and time.monotonic() < deadline:
        time.sleep(0.05)  # the hook sleeps 30 s: one that was not killed is still found
    assert git("rev-parse", "main", cwd=bare) == before
    section = outputs(tmp_path)
    assert section["status"] == "interrupted"
    assert section["outputs"]["status"] == "not-pushed" and section["outputs"].get("gitops_revision") is None
    assert not list((tmp_path / "tmp").iterdir()), "temporary clone left behind"
    assert not git_processes(str(hook)) and not git_processes(str(bare))
