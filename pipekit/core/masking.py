"""Hide secret values in everything pipekit prints, logs or sends.

Secrets are collected from the environment by name (``*_TOKEN``, ``*_PASSWORD``,
``*_SECRET*``, ``*_WEBHOOK_URL``, plus a few well-known names) and can be added at run time
with :func:`add_secret` (a token fetched from an API, a password decoded from ECR).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
_MIN_LEN = 4
_SECRET_NAME = re.compile(
    r"(_TOKEN|_PASSWORD|_SECRET[A-Z0-9_]*|_WEBHOOK_URL|_PASS|_KEY)$|^(SECRET|TOKEN|PASSWORD)"
)
_WELL_KNOWN = {
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "BITBUCKET_STEP_OIDC_TOKEN",
    "ARGOCD_AUTH_TOKEN",
    "ARGOCD_PASSWORD",
    "JIRA_PAT",  # a Jira Data Center personal access token; the name matches no suffix above
}
_NOT_SECRET = {
    "AWS_ACCESS_KEY_ID",
    "PIPEKIT_SIGNING_KEY",
}  # a signing key *reference* (a path, env://VAR, awskms:///ARN)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    return upper in _WELL_KNOWN or bool(_SECRET_NAME.search(upper))


def add_secret(value: str | None) -> None:
    """Register a value to be masked wherever it appears. Short values are ignored."""
    global _pattern
    if not value:
        return
    value = value.strip()
    if len(value) < _MIN_LEN:
        return
    parts = {value}
    # The forms a library prints a value in (repr in an exception, JSON, unicode_escape) differ
    # from the value when it holds quotes, backslashes or control characters: mask those too.
    for escaped in (
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        value.encode("unicode_escape").decode("ascii"),
    ):
        parts.add(escaped)
    for line in value.splitlines():  # a value cut at its newlines by whoever printed it
        if len(line.strip()) >= 8:
            parts.add(line.strip())
    if "://" in value:
        # A webhook URL: its query string (the signature) and path are secret too.
        split = urlsplit(value)
        if split.query and len(split.query) >= _MIN_LEN:
            parts.add(split.query)
            for piece in split.query.split("&"):
                _, _, v = piece.partition("=")
                if len(v) >= 8:
                    parts.add(v)
        if split.path and len(split.path) > 8:
            parts.add(split.path)
    with _lock:
        if parts <= _secrets:
            return
        _secrets.update(parts)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def header_value(value: str, source: str) -> str:
    """``value`` checked for use in an HTTP header (a token); registered for masking.

    A control character (a newline pasted with the token) would make the HTTP library fail
    with the whole header, secret included, in its message: bad input naming ``source``
    (the variable), never echoing the value.
    """
    add_secret(value)
    bad = sorted({f"0x{ord(c):02x}" for c in value if ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        from pipekit.core.errors import BadInput

        raise BadInput(
            f"{source} contains control character(s) {', '.join(bad)} (a newline pasted with it?)",
            hint=f"set {source} again without them",
        )
    return value


def add_url_credentials(url: str | None) -> None:
    """Register the user information of ``url`` (``https://user:password@host``) for masking: the
    password, the ``user:password`` pair, and a user part on its own when it looks like a token."""
    if not url or "@" not in url or "://" not in url:
        return
    authority = url.split("://", 1)[1].split("/", 1)[0]
    if "@" not in authority:
        return
    userinfo = authority.rsplit("@", 1)[0]
    user, sep, password = userinfo.partition(":")
    from urllib.parse import unquote

    if sep:
        add_secret(userinfo)
        add_secret(password)
        add_secret(unquote(password))
    elif len(user) >= 16:  # a token given as the user name
        add_secret(user)


def credentials_sent(headers: Mapping[str, str]) -> None:
    """Register every credential an HTTP request carries, in the form it travels (``Basic <base64>``,
    ``Bearer <token>``) and its encoded part alone: a server that echoes the header back in an
    error must not show it. Called for every request of :mod:`pipekit.core.http`."""
    for name in ("Authorization", "Proxy-Authorization"):
        value = headers.get(name)
        if value:
            add_secret(value)
            _scheme, _, credential = value.partition(" ")
            add_secret(credential)


def load_from_env(environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if is_secret_name(name):
            add_secret(value)


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def mask_tree(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings) with every string masked, keys included."""
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {mask(str(k)): mask_tree(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_tree(v) for v in data]
    return data


def without_userinfo(url: str) -> str:
    """``url`` without its user information (``https://user:pw@host/x`` -> ``https://host/x``)."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rsplit('@', 1)[-1]}{slash}{path}"


def mask_url(url: str) -> str:
    """A URL safe to print: host and path start only, no query, no user info."""
    split = urlsplit(url)
    host = split.hostname or ""
    try:
        port = split.port
    except ValueError:  # an out-of-range or non-numeric port: show none rather than fail
        port = None
    if port:
        host = f"{host}:{port}"
    path = split.path
    if len(path) > 24:
        path = path[:12] + "..."
    return mask(f"{split.scheme}://{host}{path}" + ("?***" if split.query else ""))


def reset() -> None:
    """Forget all secrets (tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None
