"""cosign's encrypted private key files, read and written.

A ``cosign generate-key-pair`` private key is PEM whose body is JSON::

    {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": "<base64>"},
     "cipher": {"name": "nacl/secretbox", "nonce": "<base64>"},
     "ciphertext": "<base64>"}

The 32-byte secretbox key is scrypt(password, salt, N, r, p); the plaintext is the PKCS#8 DER of
the private key. The PEM type is ``ENCRYPTED SIGSTORE PRIVATE KEY`` (cosign 2 and later) or
``ENCRYPTED COSIGN PRIVATE KEY`` (older): the body is the same. An error never quotes the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from typing import Any

from pipekit.core.errors import BadInput

PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)
SCRYPT_N = 65536  # what cosign generate-key-pair uses now
_MAX_N = 1 << 20  # refuse absurd work factors from a hostile file


def pem_blocks(text: str) -> list[tuple[str, bytes]]:
    """(type, DER or body bytes) of every PEM block in ``text``."""
    blocks = []
    for kind, body in _PEM_RE.findall(text):
        try:
            blocks.append((kind, base64.b64decode("".join(body.split()), validate=True)))
        except ValueError:
            continue
    return blocks


def decrypt(text: str, password: bytes, source: str) -> Any:
    """The private key of an encrypted cosign key file; :class:`BadInput` naming ``source`` otherwise."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    body = next((raw for kind, raw in pem_blocks(text) if kind in PEM_TYPES), None)
    if body is None:
        raise BadInput(
            f"signing key {source}: not a cosign private key (no ENCRYPTED SIGSTORE PRIVATE KEY "
            "or ENCRYPTED COSIGN PRIVATE KEY block)",
            hint="create one with cosign generate-key-pair",
        )
    try:
        data = json.loads(body)
        kdf, cipher = data["kdf"], data["cipher"]
        params = kdf["params"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise ValueError(f"unsupported kdf {kdf['name']} or cipher {cipher['name']}")
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16):
            raise ValueError("scrypt parameters out of range")
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(data["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise BadInput(
            f"signing key {source}: the encrypted key is malformed (not cosign's scrypt + "
            "nacl/secretbox JSON)"
        ) from None
    key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * r * n + (1 << 20))
    try:
        der = SecretBox(key).decrypt(ciphertext, nonce)
    except (CryptoError, ValueError):
        raise BadInput(
            f"signing key {source}: wrong password (COSIGN_PASSWORD) or a damaged key",
            hint="set COSIGN_PASSWORD to the password the key was created with",
        ) from None
    try:
        return load_der_private_key(der, password=None)
    except ValueError:
        raise BadInput(f"signing key {source}: the decrypted key is not a PKCS#8 private key") from None


def encrypt(private_key: Any, password: bytes, *, n: int = SCRYPT_N) -> str:
    """``private_key`` as cosign writes it (``ENCRYPTED SIGSTORE PRIVATE KEY``)."""
    from cryptography.hazmat.primitives import serialization
    from nacl.secret import SecretBox

    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, nonce = os.urandom(32), os.urandom(24)
    key = hashlib.scrypt(password, salt=salt, n=n, r=8, p=1, dklen=32, maxmem=256 * 8 * n + (1 << 20))
    sealed = SecretBox(key).encrypt(der, nonce).ciphertext
    body = json.dumps(
        {
            "kdf": {
                "name": "scrypt",
                "params": {"N": n, "r": 8, "p": 1},
                "salt": base64.b64encode(salt).decode(),
            },
            "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
            "ciphertext": base64.b64encode(sealed).decode(),
        },
        separators=(",", ":"),
    ).encode()
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return (
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    )


def generate(password: bytes, *, n: int = SCRYPT_N) -> tuple[str, str]:
    """A new ECDSA P-256 key pair as cosign writes it: (encrypted private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return encrypt(key, password, n=n), public
