"""Exit codes and the errors that carry them.

Every step shares one contract: 0 done; 1 the checked thing failed; 2 bad input;
3 an outside system failed after retries; 4 timed out; 5 pipekit itself failed (a bug);
130 / 143 stopped by SIGINT / SIGTERM, after cleaning up and recording the step as interrupted.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    EXTERNAL = 3
    TIMEOUT = 4
    BUG = 5
    SIGINT = 128 + signal.SIGINT  # 130
    SIGTERM = 128 + signal.SIGTERM  # 143


class PipekitError(Exception):
    """An error with a one-line message meant for the person reading the log."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, result: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.result = result  # the step's (partial) result, when there is one worth showing

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class CheckFailed(PipekitError):
    """The checked thing failed: tests, gate, deployment health, hook."""

    exit_code = ExitCode.FAILED


class BadInput(PipekitError):
    """Usage, config, a malformed report or manifest, a missing tool."""

    exit_code = ExitCode.BAD_INPUT


class ExternalError(PipekitError):
    """An outside system failed after retries."""

    exit_code = ExitCode.EXTERNAL


class TimedOut(PipekitError):
    exit_code = ExitCode.TIMEOUT


class Interrupted(BaseException):  # noqa: N818 - a stop, like KeyboardInterrupt, not an error
    """SIGINT or SIGTERM arrived. A BaseException, so that ``except Exception`` never swallows it."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum
        self.result: object = None  # what was settled before stopping (the GitOps writer's outcome)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SIGTERM if self.signum == signal.SIGTERM else ExitCode.SIGINT

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return f"interrupted by {self.signal_name}"
