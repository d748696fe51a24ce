"""SIGINT and SIGTERM become :class:`~pipekit.core.errors.Interrupted`, raised in the main thread.

Bitbucket stops a step with SIGTERM (a timeout, a user stopping the pipeline); a person presses
Ctrl-C. Either way the exception unwinds the step: ``with`` blocks remove temporary folders, the
process runner stops its children, the run record says ``interrupted``, and the CLI exits 130 or
143. :func:`deferred` holds a signal back over a few lines that must not be cut in half (writing
the run record) and raises it right after them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from pipekit.core.errors import Interrupted

_state = threading.local()
_pending: list[int] = []
_installed = False
_unwinding = False  # an Interrupted is on its way up: later signals do not cut its clean-up short
repeated: list[int] = []  # the signals that arrived while unwinding (ignored)


def _deferring() -> int:
    return int(getattr(_state, "depth", 0))


def _handler(signum: int, frame: FrameType | None) -> None:
    global _unwinding
    if _unwinding:
        repeated.append(signum)
        return
    if _deferring():
        _pending.append(signum)
        return
    _unwinding = True
    raise Interrupted(signum)


def reset() -> None:
    """Forget a handled signal: the next one raises :class:`Interrupted` again."""
    global _unwinding
    _unwinding = False
    _pending.clear()
    repeated.clear()


def install() -> None:
    """Route SIGINT and SIGTERM to :class:`Interrupted` (main thread only; a no-op elsewhere)."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    _installed = True
    reset()


@contextmanager
def deferred() -> Iterator[None]:
    """Run a block to its end even if a signal arrives; raise :class:`Interrupted` after it."""
    global _unwinding
    _state.depth = _deferring() + 1
    try:
        yield
    finally:
        _state.depth = _deferring() - 1
    if not _deferring() and _pending and threading.current_thread() is threading.main_thread():
        signum = _pending.pop(0)
        _pending.clear()
        if _unwinding:  # held during a clean-up already under way: it goes on
            repeated.append(signum)
            return
        _unwinding = True
        raise Interrupted(signum)


@contextmanager
def installed() -> Iterator[None]:
    """:func:`install` for the length of a block, then the caller's own handlers again.

    For library code whose caller may not have installed them (``pipekit.rehearse.run`` called
    from a script): a SIGTERM still unwinds it, so its clean-up runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    install()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        reset()
