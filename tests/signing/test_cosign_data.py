"""pipekit.signing against real cosign data: cosign's encrypted keys, cosign-made signatures, tampered copies.

The signatures in tests/fixtures/cosign/containers-image were made by cosign itself and are
published as test data by containers/image; the encrypted keys in sigstore-cosign were written by
cosign (see tests/fixtures/cosign/README.md). No cosign binary is reachable here, so these are
what pipekit's reader and verifier are checked against.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pipekit.core.errors import BadInput, ExitCode
from pipekit.signing import attach, cosign_keys, keys, payload, store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cosign"
CI = FIXTURES / "containers-image"
KEYS = FIXTURES / "sigstore-cosign"
ENV = {"COSIGN_PASSWORD": "hello"}


def cosign_layer(path: Path) -> tuple[store.Layer, dict]:
    """One layer of a cosign .sig manifest, from containers/image's sigstore-json signature file."""
    raw = path.read_bytes()
    assert raw.startswith(b"\x00sigstore-json\n")
    data = json.loads(raw[len(b"\x00sigstore-json\n") :])
    body = base64.b64decode(data["payload"])
    layer = store.Layer(data["mimeType"], "", len(body), dict(data["annotations"]), body)
    return layer, json.loads(body)


def public(name: str) -> keys.PublicKey:
    return keys.load_public_key(str(CI / name), {})


def signed_digest(claims: dict) -> str:
    return str(claims["critical"]["image"]["docker-manifest-digest"])


# -- cosign-made signatures --------------------------------------------------------------
def test_cosign_signature_verifies_with_its_key_only() -> None:
    layer, claims = cosign_layer(CI / "dir-img-cosign-valid" / "signature-1")
    digest = signed_digest(claims)
    # the signed digest is the manifest's: the manifest file is the image cosign signed
    assert (
        digest
        == "sha256:"
        + hashlib.sha256((CI / "dir-img-cosign-valid" / "manifest.json").read_bytes()).hexdigest()
    )
    assert layer.media_type == store.SIMPLE_SIGNING_LAYER
    assert attach.valid_signature(layer, digest, public("cosign.pub").key)
    assert not attach.valid_signature(layer, digest, public("cosign2.pub").key)
    other, other_claims = cosign_layer(CI / "dir-img-cosign-key-rekor-valid" / "signature-1")
    assert attach.valid_signature(other, signed_digest(other_claims), public("cosign2.pub").key)
    assert not attach.valid_signature(other, signed_digest(other_claims), public("cosign.pub").key)
    unknown, unknown_claims = cosign_layer(CI / "unknown-cosign-key.signature")
    for name in ("cosign.pub", "cosign2.pub"):
        assert not attach.valid_signature(unknown, signed_digest(unknown_claims), public(name).key)


def test_tampered_copies_of_cosign_signatures_are_rejected() -> None:
    layer, claims = cosign_layer(CI / "dir-img-cosign-valid" / "signature-1")
    digest, key = signed_digest(claims), public("cosign.pub").key
    # another digest than the one signed
    assert not attach.valid_signature(layer, "sha256:" + "0" * 64, key)
    # the payload changed to claim another image: the signature no longer covers it
    forged = layer.payload.replace(digest.encode(), ("sha256:" + "1" * 64).encode())
    assert not attach.valid_signature(
        store.Layer(layer.media_type, "", 0, layer.annotations, forged), "sha256:" + "1" * 64, key
    )
    # the identity changed
    other = layer.payload.replace(b"cosign-signed-single-sample", b"cosign-signed-other-sample")
    assert not attach.valid_signature(
        store.Layer(layer.media_type, "", 0, layer.annotations, other), digest, key
    )
    # one bit of the signature flipped
    sig = bytearray(base64.b64decode(layer.annotations[store.SIGNATURE_ANNOTATION]))
    sig[10] ^= 1
    flipped = {store.SIGNATURE_ANNOTATION: base64.b64encode(bytes(sig)).decode()}
    assert not attach.valid_signature(
        store.Layer(layer.media_type, "", 0, flipped, layer.payload), digest, key
    )
    # no signature, or another media type
    assert not attach.valid_signature(store.Layer(layer.media_type, "", 0, {}, layer.payload), digest, key)
    assert not attach.valid_signature(
        store.Layer(store.DSSE_LAYER, "", 0, layer.annotations, layer.payload), digest, key
    )


def test_pipekits_payload_is_byte_for_byte_what_cosign_signed() -> None:
    for path in (
        CI / "dir-img-cosign-valid" / "signature-1",
    ):  # made by cosign (with-tag was made by skopeo)
        layer, claims = cosign_layer(path)
        identity = claims["critical"]["identity"]["docker-reference"]
        assert payload.simple_signing(signed_digest(claims), identity) == layer.payload
        parsed = payload.parse_simple_signing(layer.payload)
        assert parsed is not None and parsed.digest == signed_digest(claims) and parsed.identity == identity


# -- cosign's encrypted keys ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["sigstore-format.key", "cosign-format.key"])
def test_cosign_encrypted_keys_decrypt_and_sign(name: str) -> None:
    text = (KEYS / name).read_text()
    assert (
        "ENCRYPTED SIGSTORE PRIVATE KEY" if name.startswith("sigstore") else "ENCRYPTED COSIGN PRIVATE KEY"
    ) in text
    signer = keys.load_signer(str(KEYS / name), ENV)
    data = payload.simple_signing("sha256:" + "a" * 64, "registry.example/svc")
    assert keys.verify(signer.public_key(), signer.sign(data), data)


def test_wrong_password_is_exit_2_naming_the_key_never_its_content(tmp_path: Path) -> None:
    path = KEYS / "sigstore-format.key"
    with pytest.raises(BadInput) as err:
        keys.load_signer(str(path), {"COSIGN_PASSWORD": "not-hello"})
    assert err.value.exit_code == ExitCode.BAD_INPUT
    assert str(path) in err.value.message and "wrong password" in err.value.message
    body = "".join(path.read_text().splitlines()[1:-1])
    assert body[:20] not in str(err.value)
    with pytest.raises(BadInput, match="COSIGN_PASSWORD is not set"):
        keys.load_signer(str(path), {})
    with pytest.raises(BadInput, match=r"missing\.key: cannot read it"):
        keys.load_signer(str(tmp_path / "missing.key"), ENV)
    garbage = tmp_path / "garbage.key"
    garbage.write_text(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n"
        "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    )
    with pytest.raises(BadInput, match="garbage.key: the encrypted key is malformed"):
        keys.load_signer(str(garbage), ENV)
    with pytest.raises(BadInput, match="not a cosign private key"):
        keys.load_signer(str(CI / "cosign.pub"), ENV)


def test_env_reference_and_generated_keys_round_trip() -> None:
    private, public_pem = cosign_keys.generate(b"s3cret", n=1 << 12)
    assert private.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    env = {"PIPEKIT_KEY_PEM": private, "COSIGN_PASSWORD": "s3cret"}
    signer = keys.load_signer("env://PIPEKIT_KEY_PEM", env)
    assert signer.source == "env://PIPEKIT_KEY_PEM"
    pub = keys.load_public_key(public_pem, {})
    assert pub.source == "(PEM text)"
    assert pub.verifies(signer.sign(b"x"), b"x")
    with pytest.raises(BadInput, match="env://NOPE: variable NOPE is not set"):
        keys.load_signer("env://NOPE", env)
    with pytest.raises(BadInput, match="unsupported scheme"):
        keys.load_signer("gcpkms://projects/p/key", env)


def test_dsse_envelope_signs_the_pae_and_names_the_digest() -> None:
    signer = keys.LocalSigner("test", ec.generate_private_key(ec.SECP256R1()))
    digest = "sha256:" + "b" * 64
    body = payload.statement(
        "registry.example/svc", digest, payload.PREDICATE_CYCLONEDX, {"bomFormat": "CycloneDX"}
    )
    env = payload.parse_envelope(
        payload.envelope(body, signer.sign(payload.pae(payload.IN_TOTO_PAYLOAD_TYPE, body)))
    )
    assert env is not None and env.payload == body
    layer = store.Layer(store.DSSE_LAYER, "", 0, {}, payload.envelope(body, env.signatures[0]))
    st = attach.envelope_statement(layer, signer.public_key())
    assert st is not None and st["predicateType"] == payload.PREDICATE_CYCLONEDX
    assert payload.subject_digests(st) == {digest}
    assert payload.pae("a", b"bc") == b"DSSEv1 1 a 2 bc"
    tampered = store.Layer(
        store.DSSE_LAYER, "", 0, {}, payload.envelope(body.replace(b"b" * 8, b"c" * 8), env.signatures[0])
    )
    assert attach.envelope_statement(tampered, signer.public_key()) is None
