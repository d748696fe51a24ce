"""Sign a digest ecr-push just pushed and attach what the run record knows about it.

The signature's identity (``critical.identity.docker-reference``) is the repository the cluster
pulls: the ECR repository URI, also when the push went through a registry override. Attached as
in-toto attestations, when this run recorded them: the SBOM (``pipekit sbom``, predicate
``https://cyclonedx.org/bom``) and the scan gate's result (``pipekit scan``, in cosign's ``vuln``
predicate). Recorded under the run record's ``sign`` section, apart from the push: a registry
that refuses the upload fails this section (exit 3) and leaves the push recorded as done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pipekit.core.outputs import SbomResult, ScanResult
from pipekit.core.recorded import RECORDED, Recorded, record
from pipekit.signing import attach, payload

if TYPE_CHECKING:
    from pipekit.clients.oci import Registry
    from pipekit.core.step import StepContext
    from pipekit.signing.keys import Signer


@dataclass
class SignResult(Recorded):
    SECTION: ClassVar[str] = "sign"

    digest: str = field(metadata=RECORDED)
    repository: str = field(metadata=RECORDED)
    registry: str = field(metadata=RECORDED)
    identity: str = field(
        metadata=RECORDED
    )  # critical.identity.docker-reference: the repository the cluster pulls
    key: str = field(metadata=RECORDED)  # the key reference (a path, env://VAR, awskms:///ARN), never the key
    signature: str | None = field(default=None, metadata=RECORDED)  # signed | already-signed
    signature_tag: str | None = field(default=None, metadata=RECORDED)  # sha256-<hex>.sig
    # predicate type -> attested | already-attested
    attestations: dict[str, str] = field(
        default_factory=dict, metadata=record(value=lambda r: r.attestations or None)
    )


def attestations(ctx: StepContext) -> list[tuple[str, Any]]:
    """(predicate type, predicate) of what this run recorded: the SBOM, the scan gate's result."""
    out: list[tuple[str, Any]] = []
    sbom = SbomResult.read(ctx.record)
    if sbom.succeeded and sbom.path and Path(sbom.path).is_file():
        try:
            out.append((payload.PREDICATE_CYCLONEDX, json.loads(Path(sbom.path).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            ctx.console.warn(f"the SBOM {sbom.path} is not readable JSON ({exc}): not attached")
    scan = ScanResult.read(ctx.record)
    if scan.succeeded and scan.summary is not None:
        from pipekit import __version__

        section = ctx.record.step(ScanResult.SECTION)
        out.append(
            (
                payload.PREDICATE_VULN,
                {
                    "invocation": {
                        "parameters": None,
                        "uri": ctx.pipeline.pipeline_url or "",
                        "event_id": ctx.pipeline.build_number or "",
                        "builder.id": "pipekit",
                    },
                    "scanner": {
                        "uri": "pipekit scan",
                        "version": __version__,
                        "db": {"uri": "", "version": ""},
                        "result": scan.summary,
                    },
                    "metadata": {
                        "scanStartedOn": section.get("started_at") or "",
                        "scanFinishedOn": section.get("finished_at") or "",
                    },
                },
            )
        )
    return out


def sign_pushed(
    ctx: StepContext, registry: Registry, repository: str, digest: str, identity: str, signer: Signer
) -> SignResult:
    """Sign ``digest`` and attach this run's attestations, recording the ``sign`` section."""
    with ctx.record.recording(SignResult.SECTION) as outputs:
        result = SignResult(
            digest=digest, repository=repository, registry=registry.host, identity=identity, key=signer.source
        )
        result.write_to(outputs)
        signed = attach.sign(registry, repository, digest, identity, signer)
        result.signature, result.signature_tag = signed.status, signed.tag
        result.write_to(outputs)
        verb = "already signed by" if signed.status == "already-signed" else "signed with"
        ctx.console.info(f"{identity}@{digest}: {verb} {signer.source} ({repository}:{signed.tag})")
        for predicate_type, predicate in attestations(ctx):
            done = attach.attest(registry, repository, digest, identity, signer, predicate_type, predicate)
            result.attestations[predicate_type] = done.status
            result.write_to(outputs)
            ctx.console.info(f"{identity}@{digest}: {done.status.replace('-', ' ')} {predicate_type}")
    return result
