"""Does a digest carry a valid signature, and an SBOM attestation, by one of these public keys?

A signature counts when its layer is a simple-signing payload for exactly this digest, its
signature verifies with one of the keys, and (when ``identity`` is given) its
``critical.identity.docker-reference`` is that repository (a tag or digest after it allowed).
An SBOM attestation counts when a ``.att`` DSSE envelope verifies with one of the keys and its
statement is a CycloneDX predicate about this digest. The verdict says which key matched or why nothing did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipekit.clients.oci import Registry
from pipekit.signing import payload, store
from pipekit.signing.attach import envelope_statement, valid_signature
from pipekit.signing.keys import PublicKey


@dataclass
class Verdict:
    digest: str
    signed: bool
    key: str | None = None  # the public key reference that verified it
    reason: str = ""  # why not, when not signed
    sbom: bool = False
    attestations: list[str] = field(default_factory=list)  # verified predicate types


def same_repository(claimed: str, repository: str) -> bool:
    """A signed identity names this repository: exactly, or with a tag or digest after it."""
    return claimed == repository or (
        claimed.startswith(repository)
        and claimed[len(repository)] in ":@"
        and "/" not in claimed[len(repository) :]
    )


def check(
    registry: Registry,
    repository: str,
    digest: str,
    keys: list[PublicKey],
    *,
    identity: str | None = None,
    attestations: bool = False,
) -> Verdict:
    layers = store.read(
        registry, repository, store.tag_for(digest, "sig"), media_types=(store.SIMPLE_SIGNING_LAYER,)
    )
    verdict = Verdict(digest, signed=False)
    if not layers:
        verdict.reason = f"no signature ({repository}:{store.tag_for(digest, 'sig')} does not exist)"
    else:
        verdict.reason = f"none of its {len(layers)} signature(s) verifies with the configured public keys"
    wrong_identity: str | None = None
    for layer in layers:
        for key in keys:
            if not valid_signature(layer, digest, key.key):
                continue
            claims = payload.parse_simple_signing(layer.payload)
            if identity and claims is not None and not same_repository(claims.identity, identity):
                wrong_identity = claims.identity
                continue
            verdict.signed, verdict.key, verdict.reason = True, key.source, ""
            break
        if verdict.signed:
            break
    if not verdict.signed and wrong_identity:
        verdict.reason = f"signed for another repository ({wrong_identity}, not {identity})"
    if attestations:
        tag = store.tag_for(digest, "att")
        for layer in store.read(registry, repository, tag, media_types=(store.DSSE_LAYER,)):
            for key in keys:
                st = envelope_statement(layer, key.key)
                if st is None or digest not in payload.subject_digests(st):
                    continue
                kind = str(st.get("predicateType") or "")
                if kind not in verdict.attestations:
                    verdict.attestations.append(kind)
                break
        verdict.sbom = payload.PREDICATE_CYCLONEDX in verdict.attestations
    return verdict
