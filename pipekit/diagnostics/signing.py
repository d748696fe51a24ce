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
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok

KIND = "signing"


def _gated_environments(plan: DoctorPlan) -> list[str]:
    envs = plan.config_value("environments")
    if not isinstance(envs, dict):
        return []
    return [
        name
        for name, env in envs.items()
        if isinstance(env, dict) and "signature" in (env.get("gates") or [])
    ]


def checks(plan: DoctorPlan) -> list[Check]:
    """What ecr-push --sign and the signature gate would use, resolved from their own declarations."""
    from pipekit.core.options import resolve_from
    from pipekit.images.settings import EcrPushOptions
    from pipekit.promotion.signature import SignatureSettings

    out: list[Check] = []
    push = resolve_from(EcrPushOptions, {}, plan.env, plan.config).options
    if push.signing_key or push.sign:
        out.append(Check("signing:key", KIND, lambda: check_key(plan, push.signing_key or "")))
    public = resolve_from(SignatureSettings, {}, plan.env, plan.config).options.public_keys
    if public or _gated_environments(plan):
        out.append(Check("signing:public-keys", KIND, lambda: check_public(plan, [str(r) for r in public])))
    return out


def _base(plan: DoctorPlan) -> Path | None:
    return plan.config.path.parent if plan.config is not None and plan.config.path is not None else None


def _region(plan: DoctorPlan) -> str | None:
    from pipekit.core.options import table_of
    from pipekit.images.settings import EcrPushOptions

    region = table_of(EcrPushOptions).resolve_from({}, plan.env, plan.config)["region"]
    return str(region) if region else None


def check_key(plan: DoctorPlan, ref: str) -> CheckOutcome:
    from pipekit.signing.keys import load_signer

    if not ref:
        return fail(
            "ecr.sign is on but no signing key is configured",
            "set PIPEKIT_SIGNING_KEY (a secured variable) or signing.key: a key file, env://VAR or awskms:///ARN",
        )
    try:
        signer = load_signer(ref, plan.env, region=_region(plan), base_dir=_base(plan))
        signer.public_key()
    except PipekitError as exc:
        return fail(exc.message, exc.hint or "check the key reference and COSIGN_PASSWORD")
    return ok(f"signing key {ref} is readable (ECDSA P-256)")


def check_public(plan: DoctorPlan, refs: list[str]) -> CheckOutcome:
    from pipekit.signing.keys import load_public_key

    if not refs:
        gated = ", ".join(_gated_environments(plan))
        return fail(
            f"environments {gated} gate on signature but signing.public_keys lists no key",
            "list the public keys to trust under signing.public_keys in pipekit.yaml",
        )
    loaded = []
    try:
        for ref in refs:
            loaded.append(load_public_key(ref, plan.env, region=_region(plan), base_dir=_base(plan)).source)
    except PipekitError as exc:
        return fail(exc.message, exc.hint or "fix the key reference in signing.public_keys")
    return ok(f"{len(loaded)} public key(s) readable: {', '.join(loaded)}")
