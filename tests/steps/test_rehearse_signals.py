"""`pipekit rehearse` stopped by SIGTERM (a stopped Bitbucket step) or Ctrl-C in the middle of the
pipeline's build step: every stand-in, step container and docker service it started is stopped,
and it exits 143 / 130."""

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

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc's children lists)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_rehearsal_stops_everything(tmp_path: Path, sig: int, code: int) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        TMPDIR=str(tmp_path),
        NO_COLOR="1",
        PIPEKIT_CARD_RENDERER_DIR=str(REPO_ROOT / ".venv" / "card-renderer"),
    )
    work = tmp_path / "work"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit",
            "rehearse",
            "--workdir",
            str(work),
            "--keep",
            "--image",
            "none",
            "--channel",
            "teams",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen, children = [], set()
    deadline = time.monotonic() + 240
    for line in proc.stdout:  # up to the build step: moto, the registry and a docker service all run
        seen.append(line)
        if line.startswith("── step 5/9: Build and push image"):
            time.sleep(1.0)
            children = descendants(proc.pid)
            break
        assert time.monotonic() < deadline, "".join(seen[-20:])
    assert children, "".join(seen[-20:])
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, "".join(seen[-10:]) + out[-2000:] + err[-2000:]
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"still running after the rehearsal ended: {left}"
    state = json.loads((work / "run" / "state.json").read_text())
    assert state["steps"].get("05-build-and-push-image") in ("stopped", None), state
    # the GitOps repository holds only init's commit: nothing was deployed
    head = subprocess.run(
        ["git", "log", "--format=%s", "master"],
        cwd=work / "git" / "gitops.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(head) == 2 and "onboard" in head[0], head
