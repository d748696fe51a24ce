"""Supply-chain signing: cosign-compatible image signatures and in-toto attestations.

- :mod:`.cosign_keys`: cosign's encrypted private key files (scrypt + NaCl secretbox).
- :mod:`.keys`: key references (a file, ``env://VAR``, ``awskms:///ARN``) to signers and public keys.
- :mod:`.payload`: the simple-signing payload, in-toto statements and DSSE envelopes.
- :mod:`.store`: cosign's storage layout in a registry (``sha256-<hex>.sig`` / ``.att`` manifests).
- :mod:`.verify`: does a digest carry a valid signature (and SBOM attestation) by one of these keys.
"""
