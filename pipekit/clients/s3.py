"""Upload files to S3 (``s3://bucket/prefix``) through :mod:`pipekit.clients.aws`: its credential chain
(Bitbucket OIDC, the environment, profiles, IRSA's web identity file in a Pod) and its retries.
botocore reads ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` itself (moto server, MinIO).
A refused call (no such bucket, access denied) is :class:`~pipekit.core.errors.ExternalError` naming
the object and the service's error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput, ExternalError

# S3's bucket naming rules (general purpose buckets): what an upload may be pointed at.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IPV4 = re.compile(r"\d+\.\d+\.\d+\.\d+")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str, flag: str = "--upload") -> S3Location:
        """``s3://bucket/prefix``, checked before anything runs:
        a bucket name S3 would refuse is bad input."""
        if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
            raise BadInput(f"{flag} {uri!r}: use s3://bucket/prefix")
        bucket, _, prefix = uri[5:].partition("/")
        if not BUCKET.fullmatch(bucket) or ".." in bucket or IPV4.fullmatch(bucket):
            raise BadInput(
                f"{flag} {uri!r}: {bucket!r} is not an S3 bucket name",
                hint="3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a "
                "letter or digit, not an IP address",
            )
        return cls(bucket, prefix.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def http_url(env: Mapping[str, str], bucket: str, key: str, region: str | None) -> str:
    """A browser link to an object: path style under a custom endpoint, else the virtual-hosted AWS URL."""
    from urllib.parse import quote

    endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").rstrip("/")
    if endpoint:
        return f"{endpoint}/{bucket}/{quote(key)}"
    return f"https://{bucket}.s3.{region or 'us-east-1'}.amazonaws.com/{quote(key)}"


def client(env: Mapping[str, str], region: str | None = None) -> tuple[Any, str]:
    """An S3 client and its region."""
    from pipekit.clients import aws

    session = aws.session(region=aws.resolve_region(region, env) or "us-east-1", env=env)
    return session.client("s3"), session.region


def upload(
    s3: Any,
    location: S3Location,
    files: Mapping[str, Path | bytes],
    *,
    content_types: Mapping[str, str] | None = None,
) -> list[str]:
    """Put each ``relative key -> file or bytes`` under the prefix; returns the keys."""
    from botocore.exceptions import ClientError

    from pipekit.clients import aws

    keys = []
    for rel, body in files.items():
        key = location.key(rel)
        data = body if isinstance(body, bytes) else body.read_bytes()
        ctype = (content_types or {}).get(rel) or (
            "application/xml" if rel.endswith(".xml") else "application/json"
        )

        def put(k: str = key, d: bytes = data, c: str = ctype) -> Any:
            return s3.put_object(Bucket=location.bucket, Key=k, Body=d, ContentType=c)

        try:
            aws.call(put, what=f"s3:PutObject {location.uri(key)}", retry=aws.RetryPolicy())
        except ClientError as exc:
            raise ExternalError(
                f"s3:PutObject {location.uri(key)} refused: {aws.error_text(exc)}",
                hint="check the bucket exists and the role may s3:PutObject under the prefix",
            ) from None
        keys.append(key)
    return keys
