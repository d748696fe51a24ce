"""Test results that outlive the Job: a summary JSON and the JUnit files under ``s3://bucket/prefix``.

Layout: ``PREFIX/SUITE/ENVIRONMENT/STAMP-REVISION/summary.json`` and ``.../junit/attempt-N/<file>``
(every attempt's files, since a rerun overwrites the runner's own).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipekit.clients.s3 import S3Location


def folder(location: S3Location, suite: str, environment: str | None, revision: str | None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tail = f"{stamp}-{revision[:12]}" if revision else stamp
    return location.key(_safe(suite), _safe(environment or "unknown"), tail)


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in part) or "x"


def upload(location: S3Location, base: str, files: Mapping[str, Path], summary: dict[str, Any],
           env: Mapping[str, str]) -> tuple[str, str]:
    """Upload the files and the summary; returns (https link of the summary, s3:// URI of the JUnit folder)."""
    from pipekit.clients import s3

    client, region = s3.client(env)
    target = S3Location(location.bucket, base)
    keys = s3.upload(client, target, {f"junit/{rel}": path for rel, path in files.items()})
    summary = {**summary, "reports": [location.uri(k) for k in keys]}
    body = json.dumps(summary, indent=2, sort_keys=True).encode()
    (summary_key,) = s3.upload(client, target, {"summary.json": body})
    return s3.http_url(env, location.bucket, summary_key, region), location.uri(target.key("junit")) + "/"
