"""Where the Kubernetes API is and how to authenticate: in-cluster service account, or a kubeconfig.

Inside a Pod (``KUBERNETES_SERVICE_HOST`` set): the service-account token, CA and namespace from
``/var/run/secrets/kubernetes.io/serviceaccount/`` (``token``, ``ca.crt``, ``namespace``) and
``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``. The token stays a *file*: bound
tokens rotate, so :class:`Credentials` re-reads it (every minute and after a 401).

Outside: ``KUBECONFIG`` (a ``:``-separated list, merged as kubectl does: the first file that names
an entry wins) or ``~/.kube/config``; the current context or ``--context``; a bearer ``token`` or
``tokenFile``, a client certificate and key (``client-certificate(-data)``, ``client-key(-data)``),
the cluster CA (``certificate-authority(-data)``) or ``insecure-skip-tls-verify``. Relative paths
are relative to the kubeconfig file. ``*-data`` values are written to private temporary files,
because ``requests`` wants paths.

An unreadable token, CA or kubeconfig is :class:`~pipekit.core.errors.BadInput` naming the path.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core import masking
from pipekit.core.errors import BadInput

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REFRESH_S = 60.0
MAX_SECRET_BYTES = 64 * 1024  # a bound service-account token is ~1 KB; a token file of /dev/zero is not one


@dataclass
class Credentials:
    """A bearer token (fixed or from a file that is re-read), or a client certificate."""

    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    client_cert: tuple[str, str] | None = None
    refresh_s: float = TOKEN_REFRESH_S
    _read_at: float = field(default=0.0, repr=False)

    def bearer(self, *, force: bool = False) -> str | None:
        """The token to send; read from ``token_file`` when it is older than ``refresh_s`` or ``force``."""
        if self.token_file is not None and (
            force or self.token is None or time.monotonic() - self._read_at >= self.refresh_s
        ):
            self.token = read_secret(self.token_file, "service-account token")
            self._read_at = time.monotonic()
            masking.add_secret(self.token)
        return self.token


@dataclass
class ClusterConfig:
    server: str  # https://host:port
    credentials: Credentials
    verify: bool | str = True  # a CA bundle path, True (system CAs) or False (insecure-skip-tls-verify)
    namespace: str | None = None  # the in-cluster namespace file, or the context's namespace
    source: str = ""  # "in-cluster" or the kubeconfig path
    context: str | None = None


def read_secret(path: Path, what: str) -> str:
    """A small text file (a token, a namespace): bounded in bytes, UTF-8, no control characters."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise BadInput(
            f"{path}: cannot read the {what}: {exc.strerror or exc}",
            hint="mount the service-account token (automountServiceAccountToken) or fix the path",
        ) from None
    if len(raw) > MAX_SECRET_BYTES:
        raise BadInput(f"{path}: the {what} is more than {MAX_SECRET_BYTES} bytes: not a token file")
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadInput(f"{path}: the {what} is not UTF-8 text") from None
    if not value:
        raise BadInput(f"{path}: the {what} is empty")
    bad = sorted({f"0x{ord(c):02x}" for c in value if ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:  # it goes into an HTTP header (a token) or an API path (a namespace): never echoed
        raise BadInput(f"{path}: the {what} contains control character(s) {', '.join(bad)}")
    return value


def in_cluster(env: Mapping[str, str], root: Path = SERVICE_ACCOUNT) -> ClusterConfig | None:
    """The in-cluster config, or None when not running in a Pod (no ``KUBERNETES_SERVICE_HOST``)."""
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    if not host:
        return None
    port = env.get("KUBERNETES_SERVICE_PORT", "").strip() or "443"
    if not port.isdigit():
        raise BadInput(f"KUBERNETES_SERVICE_PORT={port!r} is not a port number")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service address
    credentials = Credentials(token_file=root / "token")
    credentials.bearer()  # unreadable now: exit 2 naming the path, before any wait
    ca = root / "ca.crt"
    if not os.access(ca, os.R_OK):
        raise BadInput(
            f"{ca}: cannot read the cluster CA certificate",
            hint="the service-account volume is incomplete; check the Job's pod spec",
        )
    namespace = None
    ns_file = root / "namespace"
    if ns_file.exists():
        namespace = read_secret(ns_file, "namespace file")
    return ClusterConfig(f"https://{host}:{port}", credentials, str(ca), namespace, "in-cluster")


def kubeconfig_paths(env: Mapping[str, str], home: Path | None = None) -> list[Path]:
    listed = env.get("KUBECONFIG", "")
    if listed.strip():
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p.strip()]
    return [(home or Path(env.get("HOME") or Path.home())) / ".kube" / "config"]


def from_kubeconfig(
    env: Mapping[str, str],
    context: str | None = None,
    *,
    home: Path | None = None,
    scratch: Path | None = None,
) -> ClusterConfig:
    """The config of ``context`` (default: the current context) from the kubeconfig files."""
    from pipekit.core import yamlload

    paths = kubeconfig_paths(env, home)
    merged: dict[str, dict[str, tuple[Path, dict[str, Any]]]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    readable = []
    for path in paths:
        if not path.exists() and len(paths) > 1:
            continue  # kubectl skips missing files of a KUBECONFIG list
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(
                f"{path}: cannot read the kubeconfig: {getattr(exc, 'strerror', None) or exc}",
                hint="set KUBECONFIG to a readable file, or run inside the cluster",
            ) from None
        doc = yamlload.load(text, f"{path} (kubeconfig)") or {}
        if not isinstance(doc, dict):
            raise BadInput(f"{path}: the kubeconfig is not a YAML mapping")
        readable.append(path)
        current = current or doc.get("current-context") or None
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") and isinstance(entry.get(key), dict):
                    merged[section].setdefault(str(entry["name"]), (path, entry[key]))
    if not readable:
        raise BadInput(
            f"{':'.join(map(str, paths))}: no kubeconfig found",
            hint="set KUBECONFIG, or run inside the cluster (KUBERNETES_SERVICE_HOST)",
        )
    name = context or current
    if not name or name not in merged["contexts"]:
        known = ", ".join(sorted(merged["contexts"])) or "none"
        raise BadInput(
            f"{readable[0]}: context {name or '(no current-context)'!r} not found (contexts: {known})",
            hint="pass --context NAME",
        )
    ctx_path, ctx = merged["contexts"][name]
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    if cluster_name not in merged["clusters"]:
        raise BadInput(f"{ctx_path}: context {name!r} names cluster {cluster_name!r}, which is not defined")
    cpath, cluster = merged["clusters"][cluster_name]
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise BadInput(f"{cpath}: cluster {cluster_name!r} has no http(s) server: {server!r}")
    verify: bool | str = True
    if cluster.get("insecure-skip-tls-verify"):
        verify = False
    elif cluster.get("certificate-authority-data"):
        verify = _data_file(
            cluster["certificate-authority-data"], cpath, "certificate-authority-data", scratch
        )
    elif cluster.get("certificate-authority"):
        verify = str(_readable(cpath, cluster["certificate-authority"], "certificate-authority"))
    credentials = Credentials()
    if user_name:
        if user_name not in merged["users"]:
            raise BadInput(f"{ctx_path}: context {name!r} names user {user_name!r}, which is not defined")
        upath, user = merged["users"][user_name]
        credentials = _user(upath, user_name, user, scratch)
        credentials.bearer()  # an unreadable or malformed token is exit 2 now, naming it, not a wait
    ns = ctx.get("namespace")
    return ClusterConfig(server, credentials, verify, str(ns) if ns else None, str(ctx_path), name)


def _user(path: Path, name: str, user: dict[str, Any], scratch: Path | None) -> Credentials:
    if user.get("token"):
        token = masking.header_value(str(user["token"]).strip(), f"{path}: the token of user {name!r}")
        return Credentials(token=token)
    if user.get("tokenFile"):
        return Credentials(token_file=_readable(path, user["tokenFile"], "tokenFile"))
    cert = key = None
    if user.get("client-certificate-data"):
        cert = _data_file(user["client-certificate-data"], path, "client-certificate-data", scratch)
    elif user.get("client-certificate"):
        cert = str(_readable(path, user["client-certificate"], "client-certificate"))
    if user.get("client-key-data"):
        masking.add_secret(str(user["client-key-data"]))
        key = _data_file(user["client-key-data"], path, "client-key-data", scratch)
    elif user.get("client-key"):
        key = str(_readable(path, user["client-key"], "client-key"))
    if cert and key:
        return Credentials(client_cert=(cert, key))
    if user.get("exec") or user.get("auth-provider"):
        raise BadInput(
            f"{path}: exec / auth-provider credentials are not supported by pipekit",
            hint="use a token, tokenFile or client certificate (in the cluster: the service account)",
        )
    return Credentials()


def _readable(base: Path, value: Any, what: str) -> Path:
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = base.parent / path
    if not os.access(path, os.R_OK):
        raise BadInput(f"{path}: cannot read the kubeconfig's {what} (named in {base})")
    return path


def _data_file(data: Any, base: Path, what: str, scratch: Path | None) -> str:
    try:
        raw = base64.b64decode(str(data), validate=False)
    except ValueError:
        raise BadInput(f"{base}: {what} is not base64") from None
    import tempfile

    fd, name = tempfile.mkstemp(prefix="pipekit-kube-", suffix=".pem", dir=scratch)
    with os.fdopen(fd, "wb") as fh:  # mkstemp makes it 0600
        fh.write(raw)
    import atexit

    atexit.register(lambda: Path(name).unlink(missing_ok=True))
    return name


def load(
    env: Mapping[str, str],
    *,
    context: str | None = None,
    service_account: Path = SERVICE_ACCOUNT,
    home: Path | None = None,
) -> ClusterConfig:
    """In-cluster when ``KUBERNETES_SERVICE_HOST`` is set and no ``--context`` was asked for,
    else the kubeconfig."""
    if context is None:
        found = in_cluster(env, service_account)
        if found is not None:
            return found
    return from_kubeconfig(env, context, home=home)


def resolve_namespace(flag: str | None, config: ClusterConfig | None) -> str:
    """``--namespace``, else the in-cluster namespace file, else the context's namespace, else ``default``."""
    return flag or (config.namespace if config is not None else None) or "default"
