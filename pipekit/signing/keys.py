"""Key references, as cosign spells them, turned into signers and public keys.

A reference is one of:

- a file path: a cosign private key (``ENCRYPTED SIGSTORE PRIVATE KEY`` or the older
  ``ENCRYPTED COSIGN PRIVATE KEY``), its password in ``COSIGN_PASSWORD``; or a public key PEM;
- ``env://VAR``: the variable holds that PEM (cosign's convention);
- ``awskms:///ARN`` (or ``awskms://HOST:PORT/ARN`` for another endpoint): an asymmetric
  ``ECC_NIST_P256`` ``SIGN_VERIFY`` key in AWS KMS;
- for public keys only, the PEM text itself (``-----BEGIN PUBLIC KEY-----...``).

Every error names the reference (the path, ``env://VAR``, the ARN), never the key's content.
Signatures are ECDSA P-256 over SHA-256, DER-encoded, as cosign makes them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pipekit.core.errors import BadInput, ExternalError
from pipekit.signing import cosign_keys

_KMS_RE = re.compile(r"^awskms://([^/]*)/(.+)$")
_ENV_RE = re.compile(r"^env://([A-Za-z_][A-Za-z0-9_]*)$")
PASSWORD_VARIABLE = "COSIGN_PASSWORD"


class Signer(Protocol):
    source: str  # the reference as given: a path, env://VAR, awskms:///ARN

    def public_key(self) -> Any: ...

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA P-256 signature over SHA-256 of ``data``."""
        ...


@dataclass
class PublicKey:
    source: str
    key: Any = field(repr=False)

    def verifies(self, signature: bytes, data: bytes) -> bool:
        return verify(self.key, signature, data)


def verify(public_key: Any, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def same_key(a: Any, b: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    def der(k: Any) -> bytes:
        return bytes(
            k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    return der(a) == der(b)


@dataclass
class LocalSigner:
    source: str
    private_key: Any = field(repr=False)

    def public_key(self) -> Any:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return bytes(self.private_key.sign(data, ec.ECDSA(hashes.SHA256())))


@dataclass
class KmsSigner:
    """Signs through KMS and checks every signature against the key's public key before it is used.

    A message of at most 4096 bytes goes as ``MessageType=RAW`` (KMS hashes it); a longer one as
    its SHA-256 with ``DIGEST``. The check catches a service that signs something else than asked
    (moto 5.2 hashes a ``DIGEST`` message again).
    """

    source: str
    kms: Any
    key_id: str
    _public: Any = field(default=None, repr=False)

    def public_key(self) -> Any:
        if self._public is None:
            from cryptography.hazmat.primitives.serialization import load_der_public_key

            self._public = load_der_public_key(self.kms.public_key_der(self.key_id))
        return self._public

    def sign(self, data: bytes) -> bytes:
        from pipekit.clients.kms import RAW_LIMIT

        signature: bytes
        if len(data) <= RAW_LIMIT:
            signature = self.kms.sign(self.key_id, data, message_type="RAW")
        else:
            signature = self.kms.sign(self.key_id, hashlib.sha256(data).digest(), message_type="DIGEST")
        if not verify(self.public_key(), signature, data):
            kind = "RAW" if len(data) <= RAW_LIMIT else "DIGEST"
            raise ExternalError(
                f"signing key {self.source}: KMS returned a signature ({kind} message of {len(data)} "
                "bytes) that does not verify with the key's own public key; nothing was uploaded",
                hint="a KMS stand-in that mishandles MessageType=DIGEST does this (moto 5.2)",
            )
        return signature


# -- references ---------------------------------------------------------------------------
def _env_text(ref: str, env: Mapping[str, str], what: str) -> str:
    match = _ENV_RE.match(ref)
    if not match:
        raise BadInput(f"{what} {ref}: env:// needs a variable name (env://PIPEKIT_SIGNING_KEY_PEM)")
    value = env.get(match.group(1))
    if not value:
        raise BadInput(f"{what} {ref}: variable {match.group(1)} is not set")
    return value


def _file_text(path: Path, ref: str, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise BadInput(f"{what} {ref}: cannot read it ({why})") from None


def _kms(ref: str, env: Mapping[str, str], region: str | None) -> tuple[Any, str]:
    """(KmsClient, key id) for ``awskms://[HOST:PORT]/KEY``; the region comes from an ARN when it has one."""
    from pipekit.clients import aws
    from pipekit.clients.kms import KmsClient
    from pipekit.images.push import is_loopback

    match = _KMS_RE.match(ref)
    if not match:
        raise BadInput(f"signing key {ref}: expected awskms:///ARN (or awskms://HOST:PORT/ARN)")
    host, key_id = match.groups()
    arn_region = key_id.split(":")[3] if key_id.startswith("arn:") and key_id.count(":") >= 5 else None
    session = aws.session(region=arn_region or region, env=env)
    endpoint = f"{'http' if is_loopback(host) else 'https'}://{host}" if host else None
    return KmsClient(session, endpoint_url=endpoint), key_id


def check_kms_key(kms: Any, key_id: str, ref: str) -> None:
    """Exit 2 unless the key is an enabled ``ECC_NIST_P256`` ``SIGN_VERIFY`` key."""
    info = kms.describe(key_id)
    if info.usage != "SIGN_VERIFY" or info.spec != "ECC_NIST_P256":
        raise BadInput(
            f"signing key {ref}: not an asymmetric ECC_NIST_P256 signing key (KeyUsage {info.usage or '?'}, "
            f"KeySpec {info.spec or '?'})",
            hint="create one with: aws kms create-key --key-usage SIGN_VERIFY --key-spec ECC_NIST_P256",
        )
    if info.state and info.state != "Enabled":
        raise BadInput(f"signing key {ref}: the KMS key is {info.state}, not Enabled")


def load_signer(
    ref: str, env: Mapping[str, str], *, region: str | None = None, base_dir: Path | None = None
) -> Signer:
    """The signer a reference names; exit 2 naming the reference when it cannot be used."""
    ref = ref.strip()
    if ref.startswith("awskms://"):
        kms, key_id = _kms(ref, env, region)
        check_kms_key(kms, key_id, ref)
        return KmsSigner(ref, kms, key_id)
    if "://" in ref and not ref.startswith("env://"):
        raise BadInput(f"signing key {ref}: unsupported scheme (a file path, env://VAR or awskms:///ARN)")
    from pipekit.core import masking

    if ref.startswith("env://"):
        text = _env_text(ref, env, "signing key")
        masking.add_secret(text.strip())  # the (encrypted) private key never reaches a log
    else:
        path = Path(ref)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        text = _file_text(path, ref, "signing key")
    if PASSWORD_VARIABLE not in env:
        raise BadInput(
            f"signing key {ref}: {PASSWORD_VARIABLE} is not set (the key's password; empty for none)"
        )
    password = env.get(PASSWORD_VARIABLE) or ""
    masking.add_secret(password)
    key = cosign_keys.decrypt(text, password.encode("utf-8"), ref)
    _check_p256(key, ref, "signing key")
    return LocalSigner(ref, key)


def _check_p256(key: Any, ref: str, what: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = getattr(key, "curve", None)
    if not isinstance(curve, ec.SECP256R1):
        raise BadInput(
            f"{what} {ref}: not an ECDSA P-256 key ({type(key).__name__}"
            f"{' ' + curve.name if curve is not None else ''})"
        )


def describe_public(ref: str) -> str:
    """How a public key reference is named in messages: PEM text is never quoted."""
    ref = ref.strip()
    return "(PEM text)" if ref.startswith("-----BEGIN") else ref


def load_public_key(
    ref: str,
    env: Mapping[str, str],
    *,
    region: str | None = None,
    base_dir: Path | None = None,
    where: str = "signing.public_keys",
) -> PublicKey:
    """A public key from a path, PEM text, ``env://VAR`` or ``awskms:///ARN``; exit 2 naming it otherwise."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    ref = ref.strip()
    source = f"{where} {describe_public(ref)}"
    if ref.startswith("awskms://"):
        kms, key_id = _kms(ref, env, region)
        check_kms_key(kms, key_id, ref)
        try:
            key = load_der_public_key(kms.public_key_der(key_id))
        except ValueError:
            raise BadInput(f"{source}: KMS answered a public key that cannot be read") from None
        return PublicKey(ref, key)
    if ref.startswith("-----BEGIN"):
        text = ref
    elif ref.startswith("env://"):
        text = _env_text(ref, env, where)
    else:
        path = Path(ref)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        text = _file_text(path, ref, where)
    try:
        key = load_pem_public_key(text.strip().encode("utf-8"))
    except ValueError:
        raise BadInput(
            f"{source}: not a PEM public key (-----BEGIN PUBLIC KEY-----)",
            hint="the .pub file of cosign generate-key-pair, or cosign public-key --key awskms:///ARN",
        ) from None
    _check_p256(key, describe_public(ref), where)
    return PublicKey(describe_public(ref), key)
