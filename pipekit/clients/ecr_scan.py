"""Amazon ECR image scan results: wait for them, and write them as SARIF 2.1.0 for ``pipekit scan``."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pipekit.core.errors import ExternalError, TimedOut

DONE = ("COMPLETE", "ACTIVE")  # basic scanning / enhanced (Inspector) scanning


def wait_for_findings(
    ecr: Any, repository: str, digest: str, *, image: str, timeout_s: float, poll_s: float
) -> dict[str, Any]:
    """Poll DescribeImageScanFindings until the scan is done; exit 4 after ``timeout_s``, 3 if it failed."""
    deadline = time.monotonic() + timeout_s
    while True:
        findings = ecr.scan_findings(repository, digest)
        if findings is not None:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimedOut(
                f"no scan result for {image}@{digest} after {timeout_s:g} s",
                hint="is scan on push on (ecr.create.scan_on_push) or enhanced scanning set up?",
            )
        time.sleep(min(poll_s, left))
    status = str((findings.get("imageScanStatus") or {}).get("status"))
    if status not in DONE:
        desc = (findings.get("imageScanStatus") or {}).get("description") or ""
        raise ExternalError(f"image scan of {image}@{digest} ended {status}: {desc}")
    return dict(findings)


def summary(findings: dict[str, Any]) -> dict[str, Any]:
    body = findings.get("imageScanFindings") or {}
    counts = {str(k).lower(): int(v) for k, v in (body.get("findingSeverityCounts") or {}).items()}
    return {
        "status": str((findings.get("imageScanStatus") or {}).get("status")),
        "counts": counts,
        "findings": len(body.get("findings") or []) + len(body.get("enhancedFindings") or []),
    }


SEVERITY_SCORE = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0"}
SEVERITY_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}


def findings_to_sarif(findings: dict[str, Any], image: str) -> dict[str, Any]:
    """ECR scan findings (basic ``findings`` and enhanced ``enhancedFindings``) as SARIF 2.1.0.

    Severity travels as the rule's ``security-severity`` (CRITICAL 9.5, HIGH 8.0, MEDIUM 5.5,
    LOW 2.0), which the scan gate maps back exactly; INFORMATIONAL/UNDEFINED get no score.
    """
    body = findings.get("imageScanFindings") or {}
    items: list[tuple[str, str, str, str, str, str]] = []  # id, severity, title, description, uri, package
    for f in body.get("findings") or []:
        attrs = {a.get("key"): a.get("value") for a in f.get("attributes") or []}
        package = "@".join(x for x in (attrs.get("package_name"), attrs.get("package_version")) if x)
        items.append(
            (
                str(f.get("name") or "unknown"),
                str(f.get("severity") or "UNDEFINED").upper(),
                str(f.get("name") or ""),
                str(f.get("description") or ""),
                str(f.get("uri") or ""),
                package,
            )
        )
    for f in body.get("enhancedFindings") or []:
        details = f.get("packageVulnerabilityDetails") or {}
        pkgs = details.get("vulnerablePackages") or [{}]
        package = "@".join(x for x in (pkgs[0].get("name"), pkgs[0].get("version")) if x)
        items.append(
            (
                str(details.get("vulnerabilityId") or f.get("title") or "unknown"),
                str(f.get("severity") or "UNDEFINED").upper(),
                str(f.get("title") or ""),
                str(f.get("description") or ""),
                str(details.get("sourceUrl") or ""),
                package,
            )
        )
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for rule_id, severity, title, description, uri, package in items:
        if rule_id not in rules:
            rule: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": title or rule_id},
                "properties": {"tags": ["security", "container"]},
            }
            if description:
                rule["fullDescription"] = {"text": description}
            if uri.startswith(("http://", "https://")):
                rule["helpUri"] = uri
            if severity in SEVERITY_SCORE:
                rule["properties"]["security-severity"] = SEVERITY_SCORE[severity]
            rules[rule_id] = rule
        text = f"{rule_id} in {package or 'the image'} ({severity.lower()})"
        results.append(
            {
                "ruleId": rule_id,
                "level": SEVERITY_LEVEL.get(severity, "none"),
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": image}},
                        "logicalLocations": [{"fullyQualifiedName": package or image, "kind": "module"}],
                    }
                ],
                "partialFingerprints": {
                    "ecrFinding/v1": hashlib.sha256(f"{rule_id}|{package}".encode()).hexdigest()
                },
                "properties": {"ecrSeverity": severity, "package": package},
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Amazon ECR image scanning",
                        "informationUri": "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "properties": {
                    "image": image,
                    "scanStatus": (findings.get("imageScanStatus") or {}).get("status"),
                    "findingSeverityCounts": body.get("findingSeverityCounts") or {},
                },
            }
        ],
    }
