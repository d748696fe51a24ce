"""Test results that outlive the Job: a summary JSON and the JUnit files under ``s3://bucket/prefix``.

Layout: ``PREFIX/SUITE/ENVIRONMENT/STAMP-REVISION/summary.json`` and ``.../junit/attempt-N/<file>``
(every attempt's files, since a rerun overwrites the runner's own).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.clients.s3 import S3Location
from pipekit.core.options import option, resolve
from pipekit.core.revision import short_revision


@dataclass
class ResultsOptions:
    """Where post-sync-test keeps a suite's results; wait-for-argocd reads them back after a failed hook."""

    suite: str | None = option(
        flag="--suite",
        env="PIPEKIT_SUITE",
        config="post_sync_test.suite",
        help="Suite name on the card and in S3 [default: the service].",
    )
    upload: str | None = option(
        flag="--upload",
        env="PIPEKIT_TEST_RESULTS_S3",
        config="post_sync_test.upload",
        metavar="S3_URI",
        pattern="^s3://",
        help="s3://bucket/prefix for the JUnit files and a summary JSON.",
    )


def folder(location: S3Location, suite: str, environment: str | None, revision: str | None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tail = f"{stamp}-{short_revision(revision)}" if revision else stamp
    return location.key(_safe(suite), _safe(environment or "unknown"), tail)


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in part) or "x"


def upload(
    location: S3Location,
    base: str,
    files: Mapping[str, Path],
    summary: dict[str, Any],
    env: Mapping[str, str],
) -> tuple[str, str]:
    """Upload the files and the summary; returns (https link of the summary,
    s3:// URI of the JUnit folder)."""
    from pipekit.clients import s3

    client, region = s3.client(env)
    target = S3Location(location.bucket, base)
    keys = s3.upload(client, target, {f"junit/{rel}": path for rel, path in files.items()})
    summary = {**summary, "reports": [location.uri(k) for k in keys]}
    body = json.dumps(summary, indent=2, sort_keys=True).encode()
    (summary_key,) = s3.upload(client, target, {"summary.json": body})
    return s3.http_url(env, location.bucket, summary_key, region), location.uri(target.key("junit")) + "/"


def find_summary(
    location: S3Location, suite: str, environment: str | None, revision: str, env: Mapping[str, str]
) -> tuple[dict[str, Any], str] | None:
    """The newest summary the PostSync Job uploaded for ``revision`` (and its https link), or None."""
    from pipekit.clients import aws, s3

    client, region = s3.client(env)
    folder_prefix = location.key(_safe(suite), _safe(environment or "unknown")) + "/"
    wanted = f"-{short_revision(revision)}/summary.json"
    found: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": location.bucket, "Prefix": folder_prefix}
        if token:
            kwargs["ContinuationToken"] = token

        def listing(kw: dict[str, Any] = kwargs) -> dict[str, Any]:
            return dict(client.list_objects_v2(**kw))

        page = aws.call(
            listing,
            what=f"s3:ListObjectsV2 {location.uri(folder_prefix)}",
            retry=aws.RetryPolicy(attempts=2, total_s=10),
        )
        found += [o["Key"] for o in page.get("Contents") or [] if o["Key"].endswith(wanted)]
        token = page.get("NextContinuationToken")
        if not token:
            break
    if not found:
        return None
    key = max(found)  # folders start with a UTC timestamp
    body = client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
    return json.loads(body), s3.http_url(env, location.bucket, key, region)


def describe_summary(summary: dict[str, Any]) -> list[str]:
    """A few lines for a log: the result, the counts, the failing and flaky tests."""
    tests = summary.get("tests") or {}
    lines = [
        f"PostSync tests {summary.get('suite')}: {summary.get('result')}"
        + (f": {summary['message']}" if summary.get("message") else "")
    ]
    for title, items in (("failing", tests.get("failing") or []), ("flaky", tests.get("flaky_tests") or [])):
        for item in items[:10]:
            name = ".".join(str(item[k]) for k in ("class", "name") if item.get(k))
            lines.append(f"  {title}: {name}" + (f": {item['message']}" if item.get("message") else ""))
    return lines


def show_for_failed_hook(ctx: Any, revision: str) -> None:
    """For wait-for-argocd: when ``post_sync_test.upload`` is configured,
    print what the hook's suite reported."""
    from pipekit.clients.s3 import S3Location
    from pipekit.core.outputs import UpdateTagResult

    settings = resolve(ResultsOptions, ctx).options
    upload = settings.upload
    if not upload:
        return
    suite = settings.suite or ctx.service or "tests"
    environment = ctx.environment() or UpdateTagResult.read(ctx.record).environment
    try:
        found = find_summary(
            S3Location.parse(str(upload), "post_sync_test.upload"), str(suite), environment, revision, ctx.env
        )
    except Exception as exc:  # a missing summary must never hide the hook's failure
        ctx.console.warn(f"could not read the PostSync test summary from {upload}: {exc}")
        return
    if found is None:
        ctx.console.info(f"no PostSync test summary for revision {short_revision(revision)} under {upload}")
        return
    summary, url = found
    for line in describe_summary(summary):
        ctx.console.info(line)
    ctx.console.info(f"  summary: {url}")
