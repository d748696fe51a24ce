"""Amazon ECR: repositories, authorization tokens, image lookups, PutImage, scan findings.

A thin layer over the boto3 ``ecr`` client that knows ECR and nothing of pipelines. Every call
goes through :func:`pipekit.clients.aws.call` (retries on throttling and 5xx, exit 3 after).
Also the Registry HTTP API read-back of a manifest (``GET /v2/<name>/manifests/<tag>``), which
works the same against ECR's registry host (basic auth ``AWS:<password>``) and a plain
distribution registry standing in for it.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipekit.clients.aws import AwsSession, call, error_code, error_text
from pipekit.core import masking
from pipekit.core.errors import BadInput, ExternalError

TOKEN_VALIDITY = timedelta(hours=12)  # ECR's documented validity of an authorization token
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@dataclass
class Repository:
    name: str
    uri: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>
    registry_id: str
    mutability: str = "MUTABLE"
    exclusion_filters: list[str] = field(default_factory=list)
    created: bool = False

    @property
    def host(self) -> str:
        return self.uri.split("/", 1)[0]

    def is_immutable(self, tag: str) -> bool:
        """Whether ``tag`` can not be overwritten: the *_WITH_EXCLUSION forms flip matching tags."""
        matched = any(fnmatch.fnmatchcase(tag, f) for f in self.exclusion_filters)
        if self.mutability == "IMMUTABLE":
            return True
        if self.mutability == "IMMUTABLE_WITH_EXCLUSION":
            return not matched
        if self.mutability == "MUTABLE_WITH_EXCLUSION":
            return matched
        return False


@dataclass
class Authorization:
    username: str
    password: str = field(repr=False)
    endpoint: str
    expires_at: datetime


@dataclass
class RemoteImage:
    tag: str
    digest: str  # manifest digest
    manifest: str = field(repr=False)
    media_type: str = ""

    @property
    def config_digest(self) -> str | None:
        """The image config digest, i.e. the image ID: the same for the same image however it was pushed."""
        try:
            data = json.loads(self.manifest)
        except ValueError:
            return None
        config = data.get("config") if isinstance(data, dict) else None
        return str(config.get("digest")) if isinstance(config, dict) and config.get("digest") else None


class RepositoryNotFound(Exception):
    pass


class RegistryUnauthorized(Exception):
    """The registry host answered 401 to a manifest read."""


class ManifestNotFound(ExternalError):
    """The registry host has no such manifest (404)."""


class TagConflict(Exception):
    """PutImage refused a tag that exists with another image on an immutable repository."""


class EcrClient:
    def __init__(self, aws: AwsSession, registry_id: str | None = None) -> None:
        self.aws = aws
        self.registry_id = registry_id
        self.api = aws.client("ecr")

    def _ids(self) -> dict[str, str]:
        return {"registryId": self.registry_id} if self.registry_id else {}

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        fn = getattr(self.api, method)
        return call(lambda: fn(**self._ids(), **kwargs), what=f"ecr:{what}", retry=self.aws.retry)

    # -- repositories -------------------------------------------------------
    def describe_repository(self, name: str) -> Repository | None:
        try:
            answer = self._call("DescribeRepositories", "describe_repositories", repositoryNames=[name])
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise _external(exc, f"ecr:DescribeRepositories {name}") from None
        return _repository(answer["repositories"][0])

    def create_repository(self, name: str, settings: dict[str, Any]) -> Repository:
        """Create from the ``ecr.create`` settings; a lifecycle policy (JSON text) is put after creation."""
        kwargs: dict[str, Any] = {"repositoryName": name}
        mutability = settings.get("image_tag_mutability") or "MUTABLE"
        kwargs["imageTagMutability"] = mutability
        filters = settings.get("image_tag_mutability_exclusion_filters") or []
        if filters:
            kwargs["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": f} for f in filters
            ]
        kwargs["imageScanningConfiguration"] = {"scanOnPush": bool(settings.get("scan_on_push", False))}
        encryption = settings.get("encryption") or {}
        if encryption.get("type"):
            enc: dict[str, str] = {"encryptionType": encryption["type"]}
            if encryption.get("kms_key"):
                enc["kmsKey"] = encryption["kms_key"]
            kwargs["encryptionConfiguration"] = enc
        tags = settings.get("tags") or {}
        if tags:
            kwargs["tags"] = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
        try:
            answer = self._call("CreateRepository", "create_repository", **kwargs)
            repo = _repository(answer["repository"])
        except Exception as exc:
            if error_code(exc) == "RepositoryAlreadyExistsException":  # created meanwhile by a parallel step
                found = self.describe_repository(name)
                if found is not None:
                    return found
            if error_code(exc) in (
                "InvalidParameterException",
                "KmsException",
                "InvalidTagParameterException",
            ):
                raise BadInput(
                    f"ecr:CreateRepository {name} refused the ecr.create settings: {error_text(exc)}"
                ) from None
            raise _external(exc, f"ecr:CreateRepository {name}") from None
        policy = settings.get("lifecycle_policy_text")
        if policy:
            try:
                self._call(
                    "PutLifecyclePolicy",
                    "put_lifecycle_policy",
                    repositoryName=name,
                    lifecyclePolicyText=policy,
                )
            except Exception as exc:
                if error_code(exc) == "InvalidParameterException":
                    raise BadInput(
                        f"ecr:PutLifecyclePolicy {name} refused the lifecycle policy: {error_text(exc)}"
                    ) from None
                raise _external(exc, f"ecr:PutLifecyclePolicy {name}") from None
        repo.created = True
        return repo

    # -- login ----------------------------------------------------------------
    def authorization(self, now: datetime | None = None) -> Authorization:
        """GetAuthorizationToken; the password is registered for masking before anything else.

        An ``expiresAt`` already in the past when received (clock skew, or a stand-in such as moto
        that answers 2015) is not trusted: the token is then taken as valid for ECR's 12 hours.
        """
        kwargs = {"registryIds": [self.registry_id]} if self.registry_id else {}
        try:
            answer = call(
                lambda: self.api.get_authorization_token(**kwargs),
                what="ecr:GetAuthorizationToken",
                retry=self.aws.retry,
            )
        except Exception as exc:
            raise _external(exc, "ecr:GetAuthorizationToken") from None
        data = answer["authorizationData"][0]
        token = data["authorizationToken"]
        masking.add_secret(token)
        decoded = base64.b64decode(token).decode("utf-8")
        username, _, password = decoded.partition(":")
        masking.add_secret(password)
        now = now or datetime.now(timezone.utc)
        expires = data.get("expiresAt")
        if not isinstance(expires, datetime) or expires <= now:
            expires = now + TOKEN_VALIDITY
        return Authorization(username or "AWS", password, str(data.get("proxyEndpoint") or ""), expires)

    # -- images ---------------------------------------------------------------
    def images(self, repository: str, tags: list[str]) -> dict[str, RemoteImage]:
        """BatchGetImage for ``tags``: the tags that exist, with manifest and digest (one call).

        ECR answers each image with the tag it was asked for; a stand-in may answer another tag
        of the same image (moto does), so a tag left unmatched is asked for on its own.
        """
        if not tags:
            return {}
        found, missing = self._batch_get(repository, tags)
        for tag in [t for t in tags if t not in found and t not in missing]:
            single, _ = self._batch_get(repository, [tag])
            for image in single.values():
                found[tag] = RemoteImage(tag, image.digest, image.manifest, image.media_type)
        return found

    def _batch_get(self, repository: str, tags: list[str]) -> tuple[dict[str, RemoteImage], set[str]]:
        try:
            answer = self._call(
                "BatchGetImage",
                "batch_get_image",
                repositoryName=repository,
                imageIds=[{"imageTag": t} for t in tags],
                acceptedMediaTypes=[t.strip() for t in MANIFEST_TYPES.split(",")],
            )
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise RepositoryNotFound(repository) from None
            raise _external(exc, f"ecr:BatchGetImage {repository}") from None
        found: dict[str, RemoteImage] = {}
        for image in answer.get("images") or []:
            ids = image.get("imageId") or {}
            tag = ids.get("imageTag")
            manifest = image.get("imageManifest") or ""
            if tag in tags or len(tags) == 1:
                tag = tag if tag in tags else tags[0]
                digest = ids.get("imageDigest") or digest_of(manifest)
                found[tag] = RemoteImage(tag, digest, manifest, image.get("imageManifestMediaType") or "")
        missing: set[str] = set()
        for failure in answer.get("failures") or []:
            if failure.get("failureCode") not in ("ImageNotFound", "ImageTagDoesNotMatchDigest"):
                raise ExternalError(
                    f"ecr:BatchGetImage {repository}: {failure.get('failureCode')}: "
                    f"{failure.get('failureReason')}"
                )
            missing.add(str((failure.get("imageId") or {}).get("imageTag")))
        return found, missing

    def put_image(self, repository: str, tag: str, manifest: str, media_type: str, digest: str | None) -> str:
        """PutImage; returns the digest. ImageAlreadyExistsException (same image, same tag) is success."""
        kwargs: dict[str, Any] = {"repositoryName": repository, "imageTag": tag, "imageManifest": manifest}
        if media_type:
            kwargs["imageManifestMediaType"] = media_type
        if digest:
            kwargs["imageDigest"] = digest
        try:
            answer = self._call("PutImage", "put_image", **kwargs)
        except Exception as exc:
            code = error_code(exc)
            if (
                code == "ImageAlreadyExistsException"
            ):  # "Image with digest 'sha256:...' and tag ... already exists"
                told = re.search(r"digest '(sha256:[0-9a-f]{64})'", error_text(exc))
                return told.group(1) if told else digest or digest_of(manifest)
            if code == "ImageTagAlreadyExistsException":
                raise TagConflict(error_text(exc)) from None
            if code == "RepositoryNotFoundException":
                raise RepositoryNotFound(repository) from None
            raise _external(exc, f"ecr:PutImage {repository}:{tag}") from None
        return str(answer["image"]["imageId"].get("imageDigest") or digest or digest_of(manifest))

    def scan_findings(self, repository: str, digest: str) -> dict[str, Any] | None:
        """DescribeImageScanFindings (all pages); None while no scan exists or it is still running."""
        pages: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            extra = {"nextToken": token} if token else {}
            try:
                answer = self._call(
                    "DescribeImageScanFindings",
                    "describe_image_scan_findings",
                    repositoryName=repository,
                    imageId={"imageDigest": digest},
                    **extra,
                )
            except Exception as exc:
                if error_code(exc) in ("ScanNotFoundException", "ImageNotFoundException"):
                    return None
                raise _external(exc, f"ecr:DescribeImageScanFindings {repository}@{digest}") from None
            status = (answer.get("imageScanStatus") or {}).get("status")
            if status in ("IN_PROGRESS", "PENDING", None):
                return None
            pages.append(answer)
            token = answer.get("nextToken")
            if not token:
                break
        first = dict(pages[0])
        findings = [f for p in pages for f in (p.get("imageScanFindings") or {}).get("findings") or []]
        enhanced = [
            f for p in pages for f in (p.get("imageScanFindings") or {}).get("enhancedFindings") or []
        ]
        first["imageScanFindings"] = {
            **(first.get("imageScanFindings") or {}),
            "findings": findings,
            "enhancedFindings": enhanced,
        }
        return first


def digest_of(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def _repository(data: dict[str, Any]) -> Repository:
    filters = [
        str(f.get("filter")) for f in data.get("imageTagMutabilityExclusionFilters") or [] if f.get("filter")
    ]
    return Repository(
        name=data["repositoryName"],
        uri=data["repositoryUri"],
        registry_id=str(data.get("registryId", "")),
        mutability=str(data.get("imageTagMutability") or "MUTABLE"),
        exclusion_filters=filters,
    )


def _external(exc: BaseException, what: str) -> Exception:
    if isinstance(exc, (ExternalError, BadInput)):
        return exc
    code = error_code(exc)
    if code in (
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    ):
        return BadInput(
            f"{what}: {error_text(exc)}", hint="check the AWS credentials and the role's ECR permissions"
        )
    return ExternalError(f"{what}: {error_text(exc)}")


# -- Registry HTTP API ------------------------------------------------------------
def _schemes(plain_http: bool, insecure: bool) -> list[str]:
    return ["http"] if plain_http else (["https", "http"] if insecure else ["https"])


def _manifest_call(
    method: str,
    host: str,
    repository: str,
    reference: str,
    *,
    auth: tuple[str, str] | None,
    plain_http: bool,
    insecure: bool,
    **kwargs: Any,
) -> Any:
    """One request to ``/v2/<name>/manifests/<ref>`` on the registry host, trying its schemes in order;
    :class:`RegistryUnauthorized` on 401, else the response (the caller judges its status)."""
    from pipekit.core import http

    session = http.session(attempts=3, total_timeout=30, timeout=(5, 30))
    last: Exception | None = None
    for scheme in _schemes(plain_http, insecure):
        url = f"{scheme}://{host}/v2/{repository}/manifests/{reference}"
        try:
            resp = session.request(method, url, auth=auth, verify=not insecure, **kwargs)
        except ExternalError as exc:
            last = exc
            continue
        if resp.status_code == 401:
            raise RegistryUnauthorized(host)
        return resp
    verb = "read" if method == "GET" else "write"
    raise last or ExternalError(f"registry {host}: cannot {verb} manifest {repository}:{reference}")


def read_manifest(
    host: str,
    repository: str,
    reference: str,
    *,
    auth: tuple[str, str] | None,
    plain_http: bool,
    insecure: bool,
) -> tuple[str, str, str]:
    """``GET /v2/<name>/manifests/<ref>`` on the registry host: (manifest text, media type, digest)."""
    resp = _manifest_call(
        "GET",
        host,
        repository,
        reference,
        auth=auth,
        plain_http=plain_http,
        insecure=insecure,
        headers={"Accept": MANIFEST_TYPES},
    )
    if resp.status_code == 200:
        text = resp.content.decode("utf-8")
        digest = resp.headers.get("Docker-Content-Digest") or digest_of(text)
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return text, media, digest
    error = ManifestNotFound if resp.status_code == 404 else ExternalError
    raise error(f"registry {host}: GET manifest {repository}:{reference} answered {resp.status_code}")


def write_manifest(
    host: str,
    repository: str,
    tag: str,
    manifest: str,
    media_type: str,
    *,
    auth: tuple[str, str] | None,
    plain_http: bool,
    insecure: bool,
) -> str:
    """``PUT /v2/<name>/manifests/<tag>``: tag an image whose blobs the host already has; its digest."""
    resp = _manifest_call(
        "PUT",
        host,
        repository,
        tag,
        auth=auth,
        plain_http=plain_http,
        insecure=insecure,
        data=manifest.encode("utf-8"),
        headers={"Content-Type": media_type},
    )
    if resp.status_code in (200, 201):
        return str(resp.headers.get("Docker-Content-Digest") or digest_of(manifest))
    raise ExternalError(
        f"registry {host}: PUT manifest {repository}:{tag} answered {resp.status_code}: "
        f"{masking.mask(resp.text[:200])}"
    )
