"""POST a JSON payload to a webhook with the standard library: timeouts, retries, ``Retry-After``.

The same policy as :mod:`pipekit.core.http` (retry connection errors, timeouts, 429 and 5xx,
honour ``Retry-After``, bound the total time, raise :class:`ExternalError` with a masked URL
after the last try), without importing ``requests``: ``requests`` alone costs about 75 ms of
start-up here, more than a whole ``pipekit notify`` may take (see scripts/bench_notify.py).
Honours ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``.
"""

from __future__ import annotations

import http.client
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask, mask_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Policy:
    """Timeouts and retries for one webhook call."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    attempts: int = 4
    total_timeout: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 10.0


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date), capped."""
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


def _proxy_for(scheme: str, host: str, env: Mapping[str, str]) -> str | None:
    if host in LOOPBACK:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for entry in (e.strip().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    name = f"{scheme}_proxy"
    return env.get(name) or env.get(name.upper()) or None


def _connection(url: str, policy: Policy, env: Mapping[str, str]) -> tuple[http.client.HTTPConnection, str]:
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise BadInput(f"webhook URL {mask_url(url)} is not an http(s) URL")
    host, port = split.hostname, split.port
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    proxy = _proxy_for(split.scheme, host, env)
    conn: http.client.HTTPConnection
    if proxy:
        p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        if split.scheme == "https":
            conn = http.client.HTTPSConnection(p.hostname or "", p.port or 3128, timeout=policy.connect_timeout)
            conn.set_tunnel(host, port or 443)
        else:
            conn = http.client.HTTPConnection(p.hostname or "", p.port or 3128, timeout=policy.connect_timeout)
            target = url
    elif split.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=policy.connect_timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=policy.connect_timeout)
    return conn, target


def _once(url: str, body: bytes, policy: Policy, env: Mapping[str, str]) -> Answer:
    conn, target = _connection(url, policy, env)
    try:
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(policy.read_timeout)
        conn.request("POST", target, body=body, headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "pipekit-notify",
            "Accept": "*/*",
        })
        resp = conn.getresponse()
        raw = resp.read(64 * 1024)
        return Answer(resp.status, raw.decode("utf-8", "replace"), {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def post_json(
    url: str,
    body: bytes,
    *,
    policy: Policy | None = None,
    label: str = "webhook",
    env: Mapping[str, str] | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Answer:
    """POST ``body``; return the first answer that is not worth retrying (2xx-4xx).

    Raises :class:`ExternalError` when the last try still failed to connect, timed out,
    or got 429/5xx.
    """
    pol = policy or Policy()
    e = os.environ if env is None else env
    shown = mask_url(url)
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        wait: float | None = None
        try:
            answer = _once(url, body, pol, e)
            answer.attempts = attempt
            if answer.status not in RETRY_STATUSES:
                return answer
            problem = f"HTTP {answer.status}"
            wait = retry_after(answer.headers.get("retry-after"), pol.max_backoff)
        except TimeoutError:
            problem = f"no answer within {pol.read_timeout:g} s"
        except OSError as exc:  # refused, reset, DNS, TLS
            problem = mask(f"{type(exc).__name__}: {exc.strerror or exc}")
        except http.client.HTTPException as exc:
            problem = f"bad HTTP answer: {type(exc).__name__}"
        if wait is None:
            wait = min(pol.max_backoff, pol.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        elapsed = time.monotonic() - started
        if attempt >= pol.attempts or elapsed + wait > pol.total_timeout:
            raise ExternalError(
                f"{label} {shown}: {problem} after {attempt} attempt{'s' if attempt > 1 else ''} "
                f"in {elapsed:.1f} s",
                hint="check the webhook URL and that this step can reach it",
            )
        if on_retry:
            on_retry(f"{label}: {problem}; retrying in {wait:.1f} s (attempt {attempt + 1} of {pol.attempts})")
        time.sleep(wait)
