"""Promote's ``signature`` gate: every promoted digest carries a valid signature by a trusted key.

``gates: [signature]`` on an environment. The trusted keys are ``signing.public_keys`` (file
paths relative to pipekit.yaml, PEM text, ``env://VAR`` or ``awskms:///ARN``); with
``signing.require_sbom: true`` the digest must also carry a signed CycloneDX SBOM attestation.
The signature is read from the registry of the image the overlay names, or through the same
registry override as ecr-push (``ecr.registry_override`` / ``PIPEKIT_ECR_REGISTRY_OVERRIDE``);
its identity must be that image's repository. An image named by tag only is resolved to its
digest first. A registry that cannot be read makes the gate unavailable, which refuses too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import ExternalError
from pipekit.core.options import option, resolve
from pipekit.promotion.gates import GateRequest, GateResult, GateUnavailable

if TYPE_CHECKING:
    from pipekit.core.step import StepContext
    from pipekit.signing.keys import PublicKey

_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_DIGEST = re.compile(r"^(.*)@(sha256:[0-9a-f]{64})$")


@dataclass
class SignatureSettings:
    public_keys: list[str] = option(
        config="signing.public_keys",
        min_length=1,
        schema={"minItems": 1},
        help="Public keys the signature gate trusts (paths, PEM text, env://VAR, awskms:///ARN).",
    )
    require_sbom: bool = option(
        False,
        env="PIPEKIT_SIGNING_REQUIRE_SBOM",
        config="signing.require_sbom",
        help="Also require a signed CycloneDX SBOM attestation.",
    )
    registry_override: str | None = option(
        env="PIPEKIT_ECR_REGISTRY_OVERRIDE",
        config="ecr.registry_override",
        help="Read signatures from this registry host (as ecr-push pushed).",
    )
    insecure_registry: bool = option(
        False,
        env="PIPEKIT_ECR_INSECURE_REGISTRY",
        config="ecr.insecure_registry",
        help="Plain HTTP / unverified TLS to a non-loopback registry override.",
    )
    region: str | None = option(
        env=("AWS_REGION", "AWS_DEFAULT_REGION"), config="ecr.region", help="AWS region."
    )


@dataclass
class ImageName:
    host: str | None
    repository: str
    tag: str | None
    digest: str | None

    @property
    def identity(self) -> str:
        return f"{self.host}/{self.repository}" if self.host else self.repository


def parse_reference(reference: str) -> ImageName:
    """``host/path/name:tag@sha256:...`` into its parts (no host when the first part is not one)."""
    digest = None
    match = _DIGEST.match(reference)
    if match:
        reference, digest = match.groups()
    tag = None
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        reference, tag = reference.rsplit(":", 1)
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return ImageName(first, rest, tag, digest)
    return ImageName(None, reference, tag, digest)


def settings(ctx: StepContext) -> SignatureSettings:
    return resolve(SignatureSettings, ctx).options


def public_keys(ctx: StepContext, refs: list[str], region: str | None) -> list[PublicKey]:
    from pipekit.signing.keys import load_public_key

    base = ctx.config.path.parent if ctx.config.path is not None else Path.cwd()
    return [load_public_key(ref, ctx.env, region=region, base_dir=base) for ref in refs]


def registry_for(host: str, options: SignatureSettings, ctx: StepContext) -> Any:
    """The registry client for ``host``: ECR hosts with an ECR token, loopback over plain HTTP."""
    from pipekit.clients.oci import Registry
    from pipekit.images.push import is_loopback

    plain = is_loopback(host) or (options.insecure_registry and host == options.registry_override)
    ecr = _ECR_HOST.match(host)
    auth = None
    if ecr and not plain:
        from pipekit.clients import aws
        from pipekit.clients.ecr import EcrClient

        token = EcrClient(aws.session(region=ecr.group(1), env=ctx.env)).authorization()
        auth = (token.username, token.password)
    return Registry(host, auth, plain_http=plain, insecure=plain)


def evaluate(request: GateRequest, ctx: StepContext) -> GateResult:
    from pipekit.signing import verify

    options = settings(ctx)
    if not options.public_keys:
        raise GateUnavailable("signature gate: signing.public_keys in pipekit.yaml lists no public key")
    keys = public_keys(ctx, options.public_keys, options.region)
    details: dict[str, str] = {}
    for service, reference in request.images.items():
        name = parse_reference(reference)
        host = options.registry_override or name.host
        if not host:
            raise GateUnavailable(
                f"signature gate: {reference} names no registry host and no registry override "
                "is set (ecr.registry_override)"
            )
        try:
            registry = registry_for(host, options, ctx)
            digest = name.digest
            if digest is None:
                found = registry.manifest(name.repository, name.tag or "latest")
                if found is None:
                    return GateResult(False, f"{service}: {reference} is not in registry {host}")
                digest = found.digest
            verdict = verify.check(
                registry,
                name.repository,
                digest,
                keys,
                identity=name.identity,
                attestations=options.require_sbom,
            )
        except ExternalError as exc:
            raise GateUnavailable(
                f"signature gate: cannot read the signatures of {reference}: {exc.message}"
            ) from None
        where = f"{service}: {name.identity}@{digest}"
        if not verdict.signed:
            return GateResult(False, f"{where} is not signed by a trusted key: {verdict.reason}")
        if options.require_sbom and not verdict.sbom:
            return GateResult(
                False,
                f"{where} has no SBOM attestation signed by a trusted key (signing.require_sbom is true)",
            )
        details[service] = f"{digest} signed ({verdict.key})" + (", SBOM attested" if verdict.sbom else "")
    return GateResult(True, "every promoted digest is signed by a trusted key", details)
