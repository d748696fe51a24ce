"""One ``requests`` session factory: timeouts, retries with tenacity, ``Retry-After``, a total bound.

The waits are :func:`pipekit.core.retry.wait_before`'s (``Retry-After``, else ``X-RateLimit-Reset``,
else full-jitter backoff), cut short so that no wait runs past ``total_timeout``.

Retries connection errors, timeouts, 429 and 5xx. After the last try it raises
:class:`~pipekit.core.errors.ExternalError` with a masked URL; other answers (2xx-4xx)
are returned to the caller to judge.
"""

from __future__ import annotations

from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
)

from pipekit.core.errors import ExternalError
from pipekit.core.masking import mask_url
from pipekit.core.retry import RETRYABLE_STATUSES, wait_before

DEFAULT_TIMEOUT = (5.0, 30.0)


class RetryingSession(requests.Session):
    def __init__(
        self,
        *,
        attempts: int = 4,
        total_timeout: float = 60.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        super().__init__()
        self.attempts = attempts
        self.total_timeout = total_timeout
        self.default_timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.trust_env = True

    def _wait(self, state: RetryCallState) -> float:
        """``Retry-After``, else ``X-RateLimit-Reset``, else backoff; never past the total time."""
        outcome = state.outcome
        response = outcome.result() if outcome is not None and not outcome.failed else None
        wait = wait_before(state.attempt_number, self.backoff, self.max_backoff,
                           response.headers if response is not None else None)
        return min(wait, max(0.0, self.total_timeout - (state.seconds_since_start or 0.0)))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        # requests lets REQUESTS_CA_BUNDLE override a session-level verify=False (psf/requests#3829):
        # pass the session's choice on every request so --insecure means what it says.
        kwargs.setdefault("verify", self.verify)
        send = super().request
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.total_timeout),
            wait=self._wait,
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout))
            | retry_if_result(lambda r: r.status_code in RETRYABLE_STATUSES),
            reraise=True,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        shown = mask_url(url.decode() if isinstance(url, bytes) else url)
        verb = method.decode() if isinstance(method, bytes) else method
        try:
            response = retrying(send, method, url, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ExternalError(
                f"{verb} {shown} failed after retries: {type(exc).__name__}",
                hint="check the address and that the service is reachable from this step",
            ) from None
        if response is None or response.status_code in RETRYABLE_STATUSES:
            status = "no answer" if response is None else f"HTTP {response.status_code}"
            raise ExternalError(f"{verb} {shown} failed after retries: {status}")
        return response


def session(**kwargs: Any) -> RetryingSession:
    """A new session; see :class:`RetryingSession` for the knobs."""
    return RetryingSession(**kwargs)
