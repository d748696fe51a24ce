"""An OCI registry over the Distribution API: manifests and blobs of one host, by digest or tag.

What cosign-style signatures need and nothing more: read a manifest (``GET /v2/<name>/manifests/<ref>``),
read a blob, upload a blob (``POST`` then ``PUT ?digest=``, monolithic), write a manifest under a
tag. Works the same against ECR's registry host (basic auth ``AWS:<token>``) and a plain
distribution registry on loopback (no auth, plain HTTP). Knows nothing of signatures.

Errors: a host that cannot be reached after retries, or that refuses a write, is
:class:`~pipekit.core.errors.ExternalError` (exit 3); a 401/403 on a read is
:class:`RegistryDenied` (the caller names the credentials to fix).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipekit.core import masking
from pipekit.core.errors import ExternalError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


class RegistryDenied(ExternalError):
    """The registry answered 401 or 403."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Manifest:
    data: bytes = field(repr=False)
    media_type: str
    digest: str


@dataclass
class Registry:
    """One registry host. ``plain_http`` for loopback stand-ins; ``insecure`` also skips TLS checks."""

    host: str
    auth: tuple[str, str] | None = field(default=None, repr=False)
    plain_http: bool = False
    insecure: bool = False
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        from pipekit.core import http

        if self.auth:
            masking.add_secret(self.auth[1])
        self._session = http.session(attempts=3, total_timeout=self.timeout_s, timeout=(5, self.timeout_s))
        self._session.verify = not self.insecure

    @property
    def base(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}/v2"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith(("http://", "https://")) else f"{self.base}/{path}"
        return self._session.request(method, url, auth=self.auth, **kwargs)

    def _refused(self, what: str, resp: Any) -> ExternalError:
        body = masking.mask((resp.text or "")[:200].strip())
        error = RegistryDenied if resp.status_code in (401, 403) else ExternalError
        return error(
            f"registry {self.host} refused {what}: HTTP {resp.status_code}" + (f": {body}" if body else "")
        )

    # -- reading ----------------------------------------------------------------------
    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest at a tag or digest, or None when the registry has none there (404)."""
        resp = self._request("GET", f"{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._refused(f"GET manifest {repository}:{reference}", resp)
        data = resp.content
        digest = resp.headers.get("Docker-Content-Digest") or sha256_digest(data)
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(data, media, digest)

    def blob(self, repository: str, digest: str, *, limit: int = 64 * 1024 * 1024) -> bytes:
        """A blob's bytes, checked against its digest."""
        resp = self._request("GET", f"{repository}/blobs/{digest}")
        if resp.status_code != 200:
            raise self._refused(f"GET blob {repository}@{digest}", resp)
        data: bytes = resp.content
        if len(data) > limit:
            raise ExternalError(
                f"registry {self.host}: blob {repository}@{digest} is larger than {limit} bytes"
            )
        if sha256_digest(data) != digest:
            raise ExternalError(f"registry {self.host}: blob {repository}@{digest} does not match its digest")
        return data

    # -- writing ----------------------------------------------------------------------
    def has_blob(self, repository: str, digest: str) -> bool:
        resp = self._request("HEAD", f"{repository}/blobs/{digest}")
        return bool(resp.status_code == 200)

    def put_blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` (monolithic: POST an upload, PUT it with the digest); its digest."""
        digest = sha256_digest(data)
        if self.has_blob(repository, digest):
            return digest
        started = self._request("POST", f"{repository}/blobs/uploads/", headers={"Content-Length": "0"})
        if started.status_code not in (201, 202):
            raise self._refused(f"the upload of a blob to {repository}", started)
        location = started.headers.get("Location") or ""
        if not location:
            raise ExternalError(f"registry {self.host}: blob upload to {repository} answered no Location")
        if location.startswith("/"):
            location = f"{'http' if self.plain_http else 'https'}://{self.host}{location}"
        joiner = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{joiner}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code not in (201, 204):
            raise self._refused(f"the upload of blob {digest} to {repository}", done)
        return digest

    def put_manifest(
        self, repository: str, reference: str, data: bytes, media_type: str = OCI_MANIFEST
    ) -> str:
        """Write a manifest under a tag; its digest."""
        resp = self._request(
            "PUT", f"{repository}/manifests/{reference}", data=data, headers={"Content-Type": media_type}
        )
        if resp.status_code not in (200, 201):
            raise self._refused(f"PUT manifest {repository}:{reference}", resp)
        return str(resp.headers.get("Docker-Content-Digest") or sha256_digest(data))
