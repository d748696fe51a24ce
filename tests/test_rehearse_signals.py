"""`pipekit rehearse` stopped by SIGTERM (a stopped Bitbucket step) or Ctrl-C in the middle of a
stage: every stand-in it started is stopped, the image it built is removed, the step it was in is
recorded as interrupted, and it exits 143 / 130."""

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
def test_a_signal_mid_rehearsal_stops_everything_and_is_recorded(tmp_path: Path, sig: int, code: int) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_")) and not k.endswith("_WEBHOOK_URL")}
    env.update(PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmp_path), NO_COLOR="1",
               PIPEKIT_CARD_RENDERER_DIR=str(REPO_ROOT / ".venv" / "card-renderer"))
    work = tmp_path / "work"
    proc = subprocess.Popen([sys.executable, "-m", "pipekit", "rehearse", "--workdir", str(work), "--keep",
                             "--channel", "teams"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen, children = [], set()
    deadline = time.monotonic() + 180
    for line in proc.stdout:  # up to the moment the registry, moto and the stand-ins are all up
        seen.append(line)
        if line.startswith("=== stage update_tag"):
            children = descendants(proc.pid)
            break
        assert time.monotonic() < deadline, "".join(seen[-20:])
    assert children, "".join(seen[-20:])  # moto and the registry run as child processes
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, "".join(seen[-10:]) + out[-2000:] + err[-2000:]
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"still running after the rehearsal ended: {left}"
    steps = json.loads((work / "run.json").read_text())["steps"]
    assert steps["build"]["status"] == "succeeded"
    image = steps["build"]["outputs"]["image_id"]
    assert subprocess.run(["buildah", "inspect", "--type", "image", image], capture_output=True).returncode != 0
    # the record says what the GitOps repository holds: pushed with its revision, or not pushed
    update = steps.get("update_tag", {})
    head = subprocess.run(["git", "log", "-1", "--format=%H %s", "main"], cwd=work / "gitops.git",
                          capture_output=True, text=True, check=True).stdout.split(" ", 1)
    if update.get("status") == "succeeded":
        assert update["outputs"]["gitops_revision"] == head[0]
    else:  # the stage it was in (announced, then stopped) is recorded as interrupted, nothing pushed
        assert update["status"] == "interrupted", update
        assert update["error"] == f"Interrupted: interrupted by {signal.Signals(sig).name}", update
        assert head[1].strip() == "demo-service: onboard with pipekit init 0.1.0", head
