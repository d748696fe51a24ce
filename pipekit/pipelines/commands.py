"""One command of a step run to its end: its output into the step's log, max-time and stops enforced.

The script's own output is read from the file the wrapper writes it to (followed as it grows);
the tool's output (buildah's messages, a pipe's output) from its pipe. ``+ command`` lines tell
which command was running, so a failure can name it.
"""

from __future__ import annotations

import codecs
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import CheckFailed

POLL_S = 0.05
AFTER_MARKER = "after-script:"  # the wrapper's line between the script's output and the after-script's
BUILDAH_NOISE = re.compile(r"^(subprocess exited with status \d+|Error: exit status \d+)$")


class Stopped(Exception):
    """The step was stopped from outside (fail-fast, or the run was interrupted)."""


class StepTimedOut(CheckFailed):
    """The step ran past its max-time."""


class CommandRunner:
    def __init__(
        self, line: Callable[[str], None], *, deadline: float, max_time_min: int, stopped: Callable[[], bool]
    ) -> None:
        self.sink = line
        self.deadline = deadline
        self.max_time_min = max_time_min
        self.stopped = stopped
        self.last_command: str | None = None
        self.command_before_marker: str | None = None  # the script's last command, once "after-script:" came

    def execute(
        self, argv: list[str], env: dict[str, str] | None, cwd: Path, output: Path | None = None
    ) -> tuple[int, float]:
        """(exit status, wall seconds); :class:`Stopped` or :class:`StepTimedOut` end it early."""
        began = time.monotonic()
        proc = process.start(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ended = threading.Event()
        readers = [threading.Thread(target=self._pump, args=(proc,), daemon=True)]
        if output is not None:
            readers.append(threading.Thread(target=self._follow, args=(output, ended), daemon=True))
        for reader in readers:
            reader.start()
        try:
            while proc.poll() is None:
                if self.stopped():
                    raise Stopped()
                if time.monotonic() >= self.deadline:
                    raise StepTimedOut(
                        f"the step ran past its max-time of {self.max_time_min} minute(s) and was stopped"
                    )
                try:
                    proc.wait(POLL_S)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            process.stop(proc)
            raise
        finally:
            ended.set()
            for reader in readers:
                reader.join(5)
        process.forget(proc)
        return proc.returncode, time.monotonic() - began

    def line(self, text: str) -> None:
        if text.startswith("+ "):
            self.last_command = text[2:]
        elif text == AFTER_MARKER:
            self.command_before_marker = self.last_command
        self.sink(text)

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.rstrip("\n")
            if not BUILDAH_NOISE.match(text):
                self.line(text)

    def _follow(self, path: Path, ended: threading.Event) -> None:
        """The output file, line by line as it grows, to its end once the command has ended."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        handle = None
        try:
            while True:
                finished = ended.is_set()
                if handle is None and path.exists():
                    handle = path.open("rb")
                chunk = handle.read() if handle is not None else b""
                if chunk:
                    pending += decoder.decode(chunk)
                    *lines, pending = pending.split("\n")
                    for text in lines:
                        self.line(text)
                elif finished:
                    break
                else:
                    ended.wait(POLL_S)  # wakes at once when the command ends
        finally:
            if handle is not None:
                handle.close()
        pending += decoder.decode(b"", final=True)
        if pending:
            self.line(pending)
