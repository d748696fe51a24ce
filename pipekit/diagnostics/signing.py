"""Signing: the key ecr-push --sign uses and the public keys promote's signature gate trusts are
configured and readable.

``signing:key`` (when ``PIPEKIT_SIGNING_KEY`` / ``signing.key`` is set, or ``ecr.sign`` is on): the
reference loads as a signer, which for a file or ``env://`` key means decrypting it with
``COSIGN_PASSWORD`` and for ``awskms:///`` a ``DescribeKey`` showing an ``ECC_NIST_P256``
signing key. ``signing:public-keys`` (when ``signing.public_keys`` is set, or an environment's
gates name ``signature``): every listed key reads as an ECDSA P-256 public key. Messages name
the key references, never the keys.
"""

from __future__ import annotations

from pathlib import Path

from pipekit.core.errors import PipekitError
from pipekit.diagnostics.check import Check, DoctorPlan, Outcome, fail, ok

KIND = "signing"


def _gated_environments(plan: DoctorPlan) -> list[str]:
    envs = plan.config.get("environments") if plan.config is not None else None
    if not isinstance(envs, dict):
        return []
    return [name for name, env in envs.items() if isinstance(env, dict) and "signature" in (env.get("gates") or [])]


def checks(plan: DoctorPlan) -> list[Check]:
    out: list[Check] = []
    key = plan.setting("signing.key", "PIPEKIT_SIGNING_KEY")
    sign = str(plan.env.get("PIPEKIT_ECR_SIGN") or plan.setting("ecr.sign") or "").lower() in ("1", "true", "yes", "on")
    if key or sign:
        out.append(Check("signing:key", KIND, lambda: check_key(plan, str(key or ""))))
    public = plan.setting("signing.public_keys")
    if public or _gated_environments(plan):
        refs = [str(r) for r in public] if isinstance(public, list) else []
        out.append(Check("signing:public-keys", KIND, lambda: check_public(plan, refs)))
    return out


def _base(plan: DoctorPlan) -> Path | None:
    return plan.config.path.parent if plan.config is not None and plan.config.path is not None else None


def _region(plan: DoctorPlan) -> str | None:
    region = plan.setting("ecr.region", "AWS_REGION") or plan.env.get("AWS_DEFAULT_REGION")
    return str(region) if region else None


def check_key(plan: DoctorPlan, ref: str) -> Outcome:
    from pipekit.signing.keys import load_signer

    if not ref:
        return fail("ecr.sign is on but no signing key is configured",
                    "set PIPEKIT_SIGNING_KEY (a secured variable) or signing.key: a key file, env://VAR or awskms:///ARN")
    try:
        signer = load_signer(ref, plan.env, region=_region(plan), base_dir=_base(plan))
        signer.public_key()
    except PipekitError as exc:
        return fail(exc.message, exc.hint or "check the key reference and COSIGN_PASSWORD")
    return ok(f"signing key {ref} is readable (ECDSA P-256)")


def check_public(plan: DoctorPlan, refs: list[str]) -> Outcome:
    from pipekit.signing.keys import load_public_key

    if not refs:
        gated = ", ".join(_gated_environments(plan))
        return fail(f"environments {gated} gate on signature but signing.public_keys lists no key",
                    "list the public keys to trust under signing.public_keys in pipekit.yaml")
    loaded = []
    try:
        for ref in refs:
            loaded.append(load_public_key(ref, plan.env, region=_region(plan), base_dir=_base(plan)).source)
    except PipekitError as exc:
        return fail(exc.message, exc.hint or "fix the key reference in signing.public_keys")
    return ok(f"{len(loaded)} public key(s) readable: {', '.join(loaded)}")
