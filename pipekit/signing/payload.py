"""What is signed: cosign's simple-signing payload, in-toto statements and DSSE envelopes.

Simple signing (containers/image's format, cosign's ``critical.type``)::

    {"critical": {"identity": {"docker-reference": "<registry>/<repository>"},
                  "image": {"docker-manifest-digest": "sha256:..."},
                  "type": "cosign container image signature"},
     "optional": {...} | null}

An attestation is an in-toto Statement (v1) in a DSSE envelope whose signature covers the
pre-authentication encoding ``DSSEv1 <len> <payloadType> <len> <payload>``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

SIGNATURE_TYPE = "cosign container image signature"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")
PREDICATE_CYCLONEDX = "https://cyclonedx.org/bom"  # cosign attest --type cyclonedx
PREDICATE_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"  # cosign attest --type vuln


def simple_signing(digest: str, identity: str, optional: dict[str, Any] | None = None) -> bytes:
    """The payload cosign signs for ``digest``, in cosign's key order (Go marshals structs in order)."""
    body = {
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": optional,
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


@dataclass
class SignedClaims:
    digest: str
    identity: str
    optional: dict[str, Any] | None


def parse_simple_signing(payload: bytes) -> SignedClaims | None:
    """The claims of a simple-signing payload, or None when it is not one (wrong type, missing fields)."""
    try:
        data = json.loads(payload)
        critical = data["critical"]
        if critical.get("type") != SIGNATURE_TYPE:
            return None
        image = critical["image"]
        digest = image.get("docker-manifest-digest") or image.get("Docker-manifest-digest")
        identity = critical["identity"]["docker-reference"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(digest, str) or not isinstance(identity, str):
        return None
    optional = data.get("optional")
    return SignedClaims(digest, identity, optional if isinstance(optional, dict) else None)


# -- in-toto and DSSE ------------------------------------------------------------------
def statement(name: str, digest: str, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto v1 Statement about one image digest."""
    algorithm, _, hexdigest = digest.partition(":")
    body = {
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {algorithm: hexdigest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, signature: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    body = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


@dataclass
class Envelope:
    payload_type: str
    payload: bytes
    signatures: list[bytes]

    def statement(self) -> dict[str, Any] | None:
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE:
            return None
        try:
            data = json.loads(self.payload)
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("_type") in STATEMENT_TYPES else None


def parse_envelope(data: bytes) -> Envelope | None:
    try:
        raw = json.loads(data)
        payload = base64.b64decode(raw["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in raw.get("signatures") or []]
        return Envelope(str(raw["payloadType"]), payload, sigs)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def subject_digests(st: dict[str, Any]) -> set[str]:
    """``sha256:<hex>`` of every subject of a statement."""
    out: set[str] = set()
    for subject in st.get("subject") or []:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict):
            out.update(f"{alg}:{value}" for alg, value in digests.items() if isinstance(value, str))
    return out
