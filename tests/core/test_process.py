"""The one process runner: missing tools, timeouts, masking, process groups, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipekit.core import masking, process
from pipekit.core.errors import BadInput, CheckFailed, ExternalError, TimedOut


def test_runs_an_argument_list_and_captures_output() -> None:
    result = process.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert result.ok and result.stdout == "out\n" and result.stderr == "err\n"


def test_missing_tool_is_bad_input_naming_the_package() -> None:
    with pytest.raises(BadInput, match="git-does-not-exist not found on PATH"):
        process.run(["git-does-not-exist", "status"])
    with pytest.raises(BadInput, match="install Debian package jq"):
        process.run(["jq"], env={"PATH": "/nonexistent"})


@pytest.mark.slow
def test_timeout_is_exit_4_and_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; "
        f"time.sleep(60)']); open({str(pidfile)!r}, 'w').write(str(p.pid)); p.wait()"
    )
    started = time.monotonic()
    with pytest.raises(TimedOut, match="did not finish within 1 s"):
        process.run([sys.executable, "-c", script], timeout=1)
    assert time.monotonic() - started < 6
    grandchild = int(pidfile.read_text())
    deadline = (
        time.monotonic() + 15
    )  # killed already; dying takes a moment on a busy machine (it sleeps 60 s)
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that this sandbox may not have counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def test_nonzero_exit_raises_the_chosen_error_with_masked_tail() -> None:
    masking.add_secret("s3cr3t-value-123")
    try:
        argv = [sys.executable, "-c", "import sys; sys.stderr.write('bad s3cr3t-value-123\\n'); sys.exit(3)"]
        with pytest.raises(ExternalError) as err:
            process.run(argv)
        assert "exit 3" in str(err.value) and "s3cr3t" not in str(err.value) and "***" in str(err.value)
        with pytest.raises(CheckFailed):
            process.run(argv, error=CheckFailed)
        assert process.run(argv, check=False).returncode == 3
    finally:
        masking.reset()


def test_stream_gets_masked_lines_and_stdin_carries_the_secret() -> None:
    masking.add_secret("hunter2-hunter2")
    lines: list[str] = []
    try:
        result = process.run(
            [sys.executable, "-c", "import sys; print('got ' + sys.stdin.read())"],
            input="hunter2-hunter2",
            stream=lines.append,
        )
    finally:
        masking.reset()
    assert lines == ["got ***"] and "hunter2-hunter2" in result.stdout


STEP = """
import sys, time
from pathlib import Path
from pipekit.core import process
from pipekit.core.step import step_command

@step_command("demo")
def main(ctx):
    with ctx.record.recording("demo") as outputs:
        outputs["started"] = True
        Path(sys.argv[-1]).write_text("ready")
        process.run([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]])

main(["--run-record", sys.argv[1]])
"""


def _children_running(needle: str, parent: int) -> bool:
    out = subprocess.run(["pgrep", "-f", needle], capture_output=True, text=True).stdout.split()
    return any(int(pid) != parent for pid in out)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_children_records_interrupted_and_exits_128_plus(
    tmp_path: Path, sig: int, code: int
) -> None:
    record, ready = tmp_path / "run.json", tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", STEP, str(record), str(ready)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while not (ready.exists() and _children_running(str(record), proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the step recorded, and its child (time.sleep(60)) started
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert "interrupted by SIG" in err
    section = json.loads(record.read_text())["steps"]["demo"]
    assert section["status"] == "interrupted" and section["outputs"] == {"started": True}
    out = subprocess.run(
        ["pgrep", "-f", str(record)], capture_output=True, text=True
    )  # this test's child only
    assert out.stdout.strip() == "", out.stdout


def test_installed_signal_handlers_raise_interrupted_then_give_the_old_ones_back() -> None:
    from pipekit.core import signals
    from pipekit.core.errors import Interrupted

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped, signals.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler raises in the main thread before this ends
    assert stopped.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_timings_note_each_child_and_its_time_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings = tmp_path / "sub" / "timings.jsonl"
    process.run(["true"])  # not asked: nothing written
    assert not timings.exists()
    monkeypatch.setenv("PIPEKIT_TIMINGS", str(timings))
    process.run(["sleep", "0.2"])
    process.run(["false"], check=False)
    lines = [json.loads(line) for line in timings.read_text().splitlines()]
    assert [line["tool"] for line in lines] == ["sleep", "false"]
    assert 0.2 <= lines[0]["s"] < 5
