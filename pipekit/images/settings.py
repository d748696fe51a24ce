"""What ecr-push is asked to do, declared once: the repository, the tags, the registry and the scan.

The tag work of :mod:`pipekit.images.push` reads these options as the step does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core.options import option, ref
from pipekit.images import Tool


def split_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in re.split(r"[\s,]+", value) if t]
    return [str(t) for t in value if str(t)]


@dataclass
class EcrPushOptions:
    repository: str = option(
        "",
        flag="--repository",
        env="PIPEKIT_ECR_REPOSITORY",
        config="ecr.repository",
        min_length=2,
        max_length=256,
        help="ECR repository name [default: the build image name].",
    )
    tags: list[str] = option(
        flag="--tags",
        env="PIPEKIT_ECR_TAGS",
        convert=split_tags,
        help='Tags to push, e.g. "1.4.2 abc1234" [default: build tags].',
    )
    image: str | None = option(
        flag="--image",
        env="PIPEKIT_ECR_IMAGE",  # not needed with retag_from
        help="Local image reference [default: build image_ref].",
    )
    region: str | None = option(
        flag="--region",
        env=("AWS_REGION", "AWS_DEFAULT_REGION"),
        config="ecr.region",
        min_length=1,
        help="AWS region.",
    )
    registry_id: str | None = option(
        flag="--registry-id",
        env="PIPEKIT_ECR_REGISTRY_ID",
        config="ecr.registry_id",
        pattern="^[0-9]{12}$",
        help="AWS account ID of the registry [default: the caller's].",
    )
    create_repository: bool = option(
        False,
        flag="--create-repository",
        env="PIPEKIT_ECR_CREATE_REPOSITORY",
        config="ecr.create_repository",
        help="Create the repository from ecr.create when missing.",
    )
    create: dict[str, Any] = option(
        default_factory=dict,
        config="ecr.create",
        schema=ref("ecr_create"),
        help="Settings used only when the repository is created.",
    )
    lifecycle_policy: Path | None = None  # ecr.create.lifecycle_policy, relative to pipekit.yaml
    retag_from: str | None = option(
        flag="--retag-from",
        metavar="TAG",
        help="Add the tags to the image already tagged TAG in ECR (no push).",
    )
    registry_override: str | None = option(
        flag="--registry-override",
        env="PIPEKIT_ECR_REGISTRY_OVERRIDE",
        config="ecr.registry_override",
        metavar="HOST:PORT",
        min_length=1,
        help=(
            "Push to this registry host instead of ECR's (tests and private mirrors; "
            "plain HTTP only on loopback)."
        ),
    )
    insecure_registry: bool = option(
        False,
        flag="--insecure-registry",
        env="PIPEKIT_ECR_INSECURE_REGISTRY",
        config="ecr.insecure_registry",
        help="Allow plain HTTP / unverified TLS to a non-loopback --registry-override.",
    )
    container_tool: Tool = option(
        "docker",
        flag="--container-tool",
        env="PIPEKIT_CONTAINER_TOOL",
        config="ecr.container_tool",
        help="Tool that pushes (not given: the one build used).",
    )
    wait_scan: bool | None = option(
        flag="--wait-scan",
        env="PIPEKIT_ECR_WAIT_SCAN",
        config="ecr.scan.wait",
        help="Wait for the scan-on-push results [default: when a scan report is asked for].",
    )
    scan_report: Path | None = option(
        flag="--scan-report",
        env="PIPEKIT_ECR_SCAN_REPORT",
        config="ecr.scan.report",
        min_length=1,
        help="Write scan findings as SARIF (implies --wait-scan).",
    )
    scan_timeout_s: float = option(
        600.0, config="ecr.scan.timeout_s", above=0, help="Seconds to wait for the scan."
    )
    scan_poll_s: float = option(5.0, config="ecr.scan.poll_s", above=0, help="Seconds between scan polls.")
    retry: dict[str, Any] = option(
        default_factory=dict, config="ecr.retry", schema=ref("ecr_retry"), help="Retries of the AWS calls."
    )
    sign: bool = option(
        False,
        flag="--sign",
        env="PIPEKIT_ECR_SIGN",
        config="ecr.sign",
        help="Sign the pushed digest (cosign-compatible) and attach this run's SBOM and scan result.",
    )
    signing_key: str | None = option(
        flag="--signing-key",
        env="PIPEKIT_SIGNING_KEY",
        config="signing.key",
        metavar="REF",
        min_length=1,
        help="Key for --sign: a cosign key file (password in COSIGN_PASSWORD), env://VAR or awskms:///ARN.",
    )
