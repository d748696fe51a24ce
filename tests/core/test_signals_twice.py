"""A second SIGTERM during clean-up still ends every child; the message says what happened (issue 23, item 8).

GNU ``timeout`` and some CI runners send the signal twice. The suite here ignores SIGTERM (so the
runner's grace wait is needed), has a grandchild in its process group and one that called
``setsid`` (a process group of its own), and the second SIGTERM lands inside the grace wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

SUITE = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
same = subprocess.Popen([sys.executable, "-c", \
"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
alone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
print("pids", os.getpid(), same.pid, alone.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], list[int]]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit",
            "post-sync-test",
            "--junit-dir",
            str(tmp_path / "junit"),
            *extra,
            "--",
            sys.executable,
            "-c",
            SUITE,
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if line.startswith("pids "):
            return proc, [int(p) for p in line.split()[1:]]
        assert time.monotonic() < deadline, "the suite never started"
    raise AssertionError(f"no pids line: {proc.communicate()}")


def _all_gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


def test_a_second_sigterm_in_the_grace_wait_still_kills_every_child(tmp_path: Path) -> None:
    proc, pids = _start(tmp_path)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)  # inside the 3 s grace: the suite ignores SIGTERM
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    try:
        assert proc.returncode == 143, err
        assert "interrupted by SIGTERM: stopped, child processes ended" in err
        assert "Traceback" not in err
        assert _all_gone(pids), [p for p in pids if _alive(p)]
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("times", [1, 3])
def test_signals_during_clean_up_are_held_and_the_step_recorded_interrupted(
    tmp_path: Path, times: int
) -> None:
    import json

    proc, pids = _start(tmp_path)
    for _ in range(times):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    _, err = proc.communicate(timeout=30)
    try:
        assert proc.returncode == 143, err
        assert _all_gone(pids)
        section = json.loads((tmp_path / "run.json").read_text())["steps"]["post_sync_test"]
        assert section["status"] == "interrupted"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_command_timeout_ends_a_grandchild_that_called_setsid(tmp_path: Path) -> None:
    proc, pids = _start(tmp_path, "--command-timeout", "2")
    _, err = proc.communicate(timeout=30)
    try:
        assert proc.returncode == 4, err
        assert _all_gone(pids), [p for p in pids if _alive(p)]
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
