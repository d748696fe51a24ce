"""One console for every step: rich on a terminal, plain text in CI logs or with NO_COLOR.

Human output goes to stdout (stderr when ``--json`` owns stdout); logs go to stderr.
Everything passes through :func:`pipekit.core.masking.mask` and :func:`neutral`: much of what is
printed comes from outside (Jira summaries, commit subjects, a suite's output), and a carriage
return or an escape sequence in it could overwrite or forge a line ("OK: Jira gate passed").
``rich`` is imported only when the output is a terminal, so steps stay quick to start in CI.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from pipekit.core.masking import mask

log = logging.getLogger("pipekit")
_SGR = re.compile(r"\x1b\[[0-9;]*m")  # colours a test runner prints: dropped, they carry no text
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline; DEL; C1


def neutral(text: str) -> str:
    """``text`` with no control character a terminal or log viewer would act on: colours dropped,
    every other one (CR, ESC, BEL, C1...) shown as ``\\xNN``. Tabs and newlines stay."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _SGR.sub("", text))


def one_line(text: str) -> str:
    """Outside text meant for one line (a Jira summary, a status): newlines become spaces, and no
    control character is left (:func:`neutral`), so it cannot start a line of its own."""
    return neutral(" ".join(text.replace("\t", " ").splitlines()) if "\n" in text or "\r" in text else text)


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = neutral(mask(record.getMessage()))
        record.args = None
        if record.exc_info:
            import traceback

            record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def setup_logging(debug: bool = False) -> None:
    root = logging.getLogger("pipekit")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


def is_ci(env: dict[str, str] | None = None) -> bool:
    e = os.environ if env is None else env
    return bool(e.get("CI") or e.get("BITBUCKET_BUILD_NUMBER"))


def _usable(stream: IO[str] | None) -> IO[str]:
    """``stream``, or the null device when the process was started with that descriptor closed."""
    return stream if stream is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


@contextmanager
def _reader_gone() -> Iterator[None]:
    """A reader that went away (``pipekit scan | head -1``) or a closed stream ends the output, not the step.

    The rest of the output goes to the null device (so the interpreter's last flush does not
    complain either); the step finishes, records and exits with its own code, like CLIs that
    stop writing quietly on a broken pipe.
    """
    try:
        yield
    except (BrokenPipeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "closed file" not in str(exc):
            raise
        null = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None and not stream.closed:
                    os.dup2(null, stream.fileno())
            except (OSError, ValueError):
                pass
        os.close(null)


class Console:
    """Plain or rich human output, masked; a JSON result on stdout with ``json_mode``."""

    def __init__(
        self, *, json_mode: bool = False, debug: bool = False, stream: IO[str] | None = None
    ) -> None:
        self.json_mode = json_mode
        self.debug_enabled = debug
        self.stream: IO[str] = stream or _usable(sys.stderr if json_mode else sys.stdout)
        self.fancy = (
            self.stream.isatty()
            and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb"
            and not is_ci()
        )
        self._rich: Any = None

    # -- plumbing -------------------------------------------------------
    def _rich_console(self) -> Any:
        if self._rich is None:
            from rich.console import Console as RichConsole

            # Texts come from reports, commits and outside systems: never parse them as markup or
            # emoji codes (a Semgrep rule id `rule[/]x` is a MarkupError otherwise). Styles are
            # passed as arguments, so nothing printed through this console is ever markup.
            self._rich = RichConsole(file=self.stream, highlight=False, markup=False, emoji=False)
        return self._rich

    def _emit(self, text: str, style: str | None = None) -> None:
        text = neutral(mask(text))
        with _reader_gone():
            if self.fancy:
                self._rich_console().print(text, style=style)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    # -- human output ---------------------------------------------------
    def print(self, text: str = "") -> None:
        self._emit(text)

    def info(self, text: str) -> None:
        self._emit(text)

    def success(self, text: str) -> None:
        self._emit(("✔ " if self.fancy else "OK: ") + text, "green")

    def warn(self, text: str) -> None:
        self._emit(("⚠ " if self.fancy else "WARNING: ") + text, "yellow")

    def error(self, text: str) -> None:
        text = neutral(mask(text))
        with _reader_gone():
            if self.fancy:
                self._rich_console().print("✖ " + text, style="bold red")
            else:
                err = _usable(sys.stderr)
                err.write("ERROR: " + text + "\n")
                err.flush()

    def debug(self, text: str) -> None:
        if self.debug_enabled:
            with _reader_gone():
                sys.stderr.write("DEBUG: " + neutral(mask(text)) + "\n")
                sys.stderr.flush()

    def kv(self, pairs: dict[str, Any]) -> None:
        width = max((len(k) for k in pairs), default=0)
        for key, value in pairs.items():
            if value is not None and value != "":
                self._emit(f"  {key.ljust(width)}  {value}")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
        if self.fancy:
            from rich.table import Table

            table = Table(title=mask(title) if title else None)
            for h in headers:
                table.add_column(mask(str(h)))
            for row in rows:
                table.add_row(*(mask(str(c)) for c in row))
            with _reader_gone():
                self._rich_console().print(table)
            return
        if title:
            self._emit(title)
        cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        for n, row in enumerate(cells):
            self._emit("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
            if n == 0:
                self._emit("  ".join("-" * w for w in widths))

    # -- machine output -------------------------------------------------
    def result(self, data: Any) -> None:
        """Write the machine-readable result to stdout (only in ``--json`` mode)."""
        if self.json_mode:
            with _reader_gone():
                out = _usable(sys.stdout)
                out.write(mask(json.dumps(data, indent=2, sort_keys=True, default=str)) + "\n")
                out.flush()
