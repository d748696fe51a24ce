"""Output files a step writes (SARIF, JUnit, reports): checked up front, written whole or not at all.

A step that writes several files checks every one with :func:`check_writable` before writing
any, so a bad path (a directory, a folder that cannot be created) is bad input with nothing
half-done; :func:`atomic` writes beside the target and renames, so a reader never sees half
a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pipekit.core.errors import BadInput


def check_writable(path: str | os.PathLike[str], source: str) -> Path:
    """``path`` as a file this process can create or replace;
    :class:`BadInput` naming ``source`` otherwise."""
    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{source} {p}: is a directory; name a file to write")
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{source} {p}: cannot create its folder: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise BadInput(f"{source} {p}: not writable")
    return p


@contextmanager
def atomic(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``; rename it over ``path`` only when the block succeeds."""
    import tempfile

    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with open(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a run record or report is read by later steps' users
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
