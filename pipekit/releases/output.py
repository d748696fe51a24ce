"""Where a status or diff report goes: a file (checked before any work, written whole), or stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from pipekit.core.outfiles import atomic, check_writable
from pipekit.core.step import StepContext


def check(out: Path | None) -> None:
    if out is not None:
        check_writable(out, "--out")


def emit(ctx: StepContext, text: str, fmt: str, out: Path | None, what: str) -> None:
    if out is not None:
        with atomic(out, "w") as fh:
            fh.write(text)
        ctx.console.success(f"{what} ({fmt}) written to {out}")
    elif fmt == "table":
        ctx.console.print(text.rstrip("\n"))
    elif not ctx.console.json_mode:  # a machine format, byte for byte on stdout
        sys.stdout.write(text)
        sys.stdout.flush()
