"""AWS KMS: describe a key, read its public key, sign with it. Knows KMS and nothing of images.

Every call goes through :func:`pipekit.clients.aws.call` (retries on throttling and 5xx, exit 3
after). A key that does not exist or may not be used is :class:`BadInput` (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipekit.clients.aws import AwsSession, call, error_code, error_text
from pipekit.core.errors import BadInput, ExternalError

RAW_LIMIT = 4096  # KMS Sign takes at most 4096 bytes of message with MessageType RAW


@dataclass
class KeyInfo:
    usage: str  # SIGN_VERIFY | ENCRYPT_DECRYPT | GENERATE_VERIFY_MAC | ...
    spec: str  # ECC_NIST_P256 | RSA_2048 | SYMMETRIC_DEFAULT | ...
    state: str  # Enabled | Disabled | PendingDeletion | ...


class KmsClient:
    def __init__(self, aws: AwsSession, endpoint_url: str | None = None) -> None:
        self.aws = aws
        self.api = aws.client("kms", endpoint_url or None)

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return call(fn, what=f"kms:{what}", retry=self.aws.retry)
        except Exception as exc:
            code = error_code(exc)
            if code in (
                "NotFoundException",
                "InvalidArnException",
                "DisabledException",
                "KMSInvalidStateException",
                "InvalidKeyUsageException",
                "AccessDeniedException",
                "UnrecognizedClientException",
                "ValidationException",
            ):
                raise BadInput(f"kms:{what}: {error_text(exc)}") from None
            if isinstance(exc, (ExternalError, BadInput)):
                raise
            raise ExternalError(f"kms:{what}: {error_text(exc)}") from None

    def describe(self, key_id: str) -> KeyInfo:
        meta = self._call("DescribeKey", lambda: self.api.describe_key(KeyId=key_id))["KeyMetadata"]
        return KeyInfo(
            usage=str(meta.get("KeyUsage") or ""),
            spec=str(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or ""),
            state=str(meta.get("KeyState") or ""),
        )

    def public_key_der(self, key_id: str) -> bytes:
        answer = self._call("GetPublicKey", lambda: self.api.get_public_key(KeyId=key_id))
        return bytes(answer["PublicKey"])

    def sign(
        self, key_id: str, message: bytes, *, message_type: str, algorithm: str = "ECDSA_SHA_256"
    ) -> bytes:
        """The DER signature KMS makes of ``message`` (RAW: KMS hashes it; DIGEST: it is the hash)."""
        answer = self._call(
            "Sign",
            lambda: self.api.sign(
                KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
            ),
        )
        return bytes(answer["Signature"])
