"""Retry timing shared by every HTTP client: ``Retry-After`` and jittered exponential backoff.

Kept free of ``requests`` so that clients that avoid it for start-up time (the webhook client)
follow exactly the same rules as :mod:`pipekit.core.http`.
"""

from __future__ import annotations

import time


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils

        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, cap))


def backoff(attempt: int, base: float, cap: float) -> float:
    """The wait before retry ``attempt + 1``: ``base * 2**(attempt-1)`` capped, with jitter of half of it."""
    import random  # only on a retry: its import is 1-2 ms of every start-up otherwise

    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
