"""Sign a pushed digest and attach attestations to it, as ``cosign sign`` / ``cosign attest`` do.

Idempotent: a digest that already carries a valid signature by the same key is left alone, and
so is an attestation whose statement is already there, signed by that key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from pipekit.clients.oci import Registry
from pipekit.signing import payload, store
from pipekit.signing.keys import Signer, verify


@dataclass
class Attached:
    kind: str  # signature | attestation
    tag: str
    status: str  # signed | already-signed | attested | already-attested
    predicate_type: str | None = None
    manifest_digest: str | None = None


def valid_signature(layer: store.Layer, digest: str, public_key: Any) -> bool:
    """Whether one ``.sig`` layer is a signature of ``digest`` by ``public_key``."""
    if layer.media_type != store.SIMPLE_SIGNING_LAYER:
        return False
    claims = payload.parse_simple_signing(layer.payload)
    if claims is None or claims.digest != digest:
        return False
    try:
        signature = base64.b64decode(layer.annotations.get(store.SIGNATURE_ANNOTATION, ""), validate=True)
    except ValueError:
        return False
    return bool(signature) and verify(public_key, signature, layer.payload)


def sign(registry: Registry, repository: str, digest: str, identity: str, signer: Signer) -> Attached:
    """Append a signature of ``digest`` to ``<repository>:sha256-<hex>.sig`` unless the
    key signed it already."""
    tag = store.tag_for(digest, "sig")
    existing = store.read(registry, repository, tag, media_types=(store.SIMPLE_SIGNING_LAYER,))
    public = signer.public_key()
    if any(valid_signature(layer, digest, public) for layer in existing):
        return Attached("signature", tag, "already-signed")
    body = payload.simple_signing(digest, identity)
    signature = base64.b64encode(signer.sign(body)).decode()
    layer = store.Layer(store.SIMPLE_SIGNING_LAYER, "", 0, {store.SIGNATURE_ANNOTATION: signature}, body)
    written = store.append(registry, repository, tag, existing, [layer])
    return Attached("signature", tag, "signed", manifest_digest=written)


def envelope_statement(layer: store.Layer, public_key: Any) -> dict[str, Any] | None:
    """The in-toto statement of one ``.att`` layer when its DSSE envelope is signed by ``public_key``."""
    if layer.media_type != store.DSSE_LAYER:
        return None
    env = payload.parse_envelope(layer.payload)
    if env is None:
        return None
    signed = payload.pae(env.payload_type, env.payload)
    if not any(verify(public_key, sig, signed) for sig in env.signatures):
        return None
    return env.statement()


def attest(
    registry: Registry,
    repository: str,
    digest: str,
    identity: str,
    signer: Signer,
    predicate_type: str,
    predicate: Any,
) -> Attached:
    """Append a signed in-toto statement about ``digest`` to ``<repository>:sha256-<hex>.att``."""
    tag = store.tag_for(digest, "att")
    existing = store.read(registry, repository, tag, media_types=(store.DSSE_LAYER,))
    body = payload.statement(identity, digest, predicate_type, predicate)
    public = signer.public_key()
    for layer in existing:
        env = payload.parse_envelope(layer.payload) if layer.media_type == store.DSSE_LAYER else None
        if env is not None and env.payload == body and envelope_statement(layer, public) is not None:
            return Attached("attestation", tag, "already-attested", predicate_type)
    signature = signer.sign(payload.pae(payload.IN_TOTO_PAYLOAD_TYPE, body))
    annotations = {store.SIGNATURE_ANNOTATION: "", store.PREDICATE_ANNOTATION: predicate_type}
    layer = store.Layer(store.DSSE_LAYER, "", 0, annotations, payload.envelope(body, signature))
    written = store.append(registry, repository, tag, existing, [layer])
    return Attached("attestation", tag, "attested", predicate_type, written)
