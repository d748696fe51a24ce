"""POST a JSON payload to a webhook over a plain socket: timeouts, retries, ``Retry-After``.

The same policy as :mod:`pipekit.core.http` (retry connection errors, timeouts, 429 and 5xx,
honour ``Retry-After``, bound the total time, raise :class:`ExternalError` with a masked URL
after the last try), without ``requests`` (about 75 ms of start-up, more than a whole
``pipekit notify`` may take) and without ``http.client`` (about 20 ms, mostly the email
parser): a webhook call is one small POST with ``Connection: close``, and reading its answer
needs a status line, a few headers and the start of the body. TLS through :mod:`ssl` with the
default context (system CAs, ``SSL_CERT_FILE``); ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``
honoured, with Basic proxy credentials from the proxy URL. See scripts/bench_notify.py.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask, mask_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024  # only the start of an error body is ever shown
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


class BadAnswer(Exception):
    """The server's answer was not HTTP we understand."""


def _read_head(sock: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytearray]:
    """Read one response head from ``sock``; return status, lower-cased headers and the bytes after it."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            raise BadAnswer("answer head too large")
        chunk = sock.recv(65536)
        if not chunk:
            raise BadAnswer("connection closed before an answer" if not buf else "answer cut short")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise BadAnswer(f"not an HTTP answer: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, bytearray(rest)


def _read_body(sock: socket.socket, headers: dict[str, str], buf: bytearray) -> bytes:
    """The body (at most MAX_BODY bytes): by Content-Length, chunked, or up to the close."""
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = None if chunked else headers.get("content-length")
    want = min(int(length), MAX_BODY) if length and length.isdigit() else MAX_BODY
    while len(buf) < want and not (chunked and b"\r\n0\r\n" in b"\r\n" + buf):
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return _dechunk(bytes(buf)) if chunked else bytes(buf[:want])


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, sep, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0 or not sep:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def _open(url: str, policy: Policy, env: Mapping[str, str]) -> tuple[socket.socket, str, str]:
    """A connected (and, for https, TLS-wrapped) socket, the request target and the header lines to send."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise BadInput(f"webhook URL {mask_url(url)} is not an http(s) URL")
    host = split.hostname
    port = split.port or (443 if split.scheme == "https" else 80)
    host_header = host if split.port is None else f"{host}:{port}"
    if ":" in host:
        host_header = f"[{host}]" + (f":{port}" if split.port else "")
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    extra = ""
    proxy = _proxy_for(split.scheme, host, env)
    p = urlsplit(proxy if "://" in proxy else "http://" + proxy) if proxy else None
    sock = socket.create_connection((p.hostname or "", p.port or 3128) if p else (host, port),
                                    timeout=policy.connect_timeout)
    try:
        if p:
            auth = _proxy_auth(p.username, p.password)
            if split.scheme == "https":
                sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
                status, _, _ = _read_head(sock, bytearray())
                if status != 200:
                    raise BadAnswer(f"proxy refused the tunnel: HTTP {status}")
            else:
                target, extra = url, auth  # a plain-HTTP proxy takes the absolute URL
        if split.scheme == "https":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.settimeout(policy.read_timeout)
    except BaseException:
        sock.close()
        raise
    return sock, target, f"Host: {host_header}\r\n{extra}"


def _proxy_auth(user: str | None, password: str | None) -> str:
    if not user:
        return ""
    import base64
    from urllib.parse import unquote

    token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode()
    return f"Proxy-Authorization: Basic {token}\r\n"


def _once(url: str, body: bytes, policy: Policy, env: Mapping[str, str]) -> Answer:
    sock, target, header_lines = _open(url, policy, env)
    with sock:
        try:
            request = (f"POST {target} HTTP/1.1\r\n{header_lines}"
                       "Content-Type: application/json; charset=utf-8\r\n"
                       f"Content-Length: {len(body)}\r\nUser-Agent: pipekit-notify\r\nAccept: */*\r\n"
                       "Connection: close\r\n\r\n").encode("ascii")
        except UnicodeEncodeError:
            raise BadInput(f"webhook URL {mask_url(url)} has characters that must be percent-encoded") from None
        sock.sendall(request + body)
        buf = bytearray()
        status, headers, buf = _read_head(sock, buf)
        while 100 <= status < 200:  # an interim answer (100 Continue, 103): the real one follows
            status, headers, buf = _read_head(sock, buf)
        raw = _read_body(sock, headers, buf)
    return Answer(status, raw.decode("utf-8", "replace"), headers)


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
        except BadAnswer as exc:
            problem = f"bad HTTP answer: {exc}"
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
