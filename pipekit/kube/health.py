"""``--health-url``: wait until every URL answers 2xx, with jittered backoff, within a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import requests

from pipekit.core.errors import TimedOut
from pipekit.core.masking import mask_url
from pipekit.core.retry import Retrying


def wait_healthy(
    urls: Sequence[str],
    deadline: float,
    *,
    on_progress: Callable[[str], None] | None = None,
    first_backoff: float = 0.2,
    max_backoff: float = 5.0,
) -> None:
    """Return once each URL answered 2xx (in order); :class:`TimedOut` naming the URL and its last answer."""
    with requests.Session() as session:
        for url in urls:
            last = "no answer yet"
            tries = Retrying(None, deadline - time.monotonic(), first_backoff, max_backoff)
            for attempt in tries:
                left = deadline - time.monotonic()
                try:
                    answer = session.get(
                        url,
                        timeout=(min(5.0, max(0.5, left)), min(10.0, max(0.5, left))),
                        allow_redirects=True,
                    )
                    answer.close()
                    if 200 <= answer.status_code < 300:
                        break
                    last = f"HTTP {answer.status_code}"
                except requests.RequestException as exc:
                    last = type(exc).__name__
                if on_progress is not None and (attempt in (1, 5) or attempt % 20 == 0):
                    on_progress(f"{mask_url(url)}: {last}, retrying")
                wait = tries.wait()
                if wait is None:
                    raise TimedOut(
                        f"health URL {mask_url(url)} did not answer 2xx in time (last: {last})",
                        hint="raise --ready-timeout, or check the service's health endpoint",
                    )
                time.sleep(wait)
