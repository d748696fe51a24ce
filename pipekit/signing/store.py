"""cosign's storage layout in a registry: one OCI image manifest per signed digest and kind.

``<repository>:sha256-<hex>.sig`` holds the signatures of ``sha256:<hex>``: one layer per signature,
the simple-signing payload as the blob (media type ``application/vnd.dev.cosign.simplesigning.v1+json``),
the base64 signature in the layer annotation ``dev.cosignproject.cosign/signature``.
``<repository>:sha256-<hex>.att`` holds attestations: DSSE envelopes as blobs
(``application/vnd.dsse.envelope.v1+json``), annotated with ``predicateType`` (and an empty
signature annotation, as cosign writes it). A new signature or attestation is appended to the
manifest already there. The config is the one go-containerregistry's empty image gets when
layers are appended (what cosign pushes): diff IDs are the blobs' digests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipekit.clients.oci import OCI_MANIFEST, Registry
from pipekit.core.errors import ExternalError

SIMPLE_SIGNING_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_ANNOTATION = "predicateType"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MAX_LAYERS = 1000  # cosign's own bound on layers in one signature manifest
ZERO_TIME = "0001-01-01T00:00:00Z"


def tag_for(digest: str, suffix: str) -> str:
    """``sha256:abc...`` -> ``sha256-abc....sig`` (``suffix`` is ``sig`` or ``att``)."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.{suffix}"


@dataclass
class Layer:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    payload: bytes = field(default=b"", repr=False)

    def descriptor(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "size": self.size, "digest": self.digest}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def read(registry: Registry, repository: str, tag: str, *, media_types: tuple[str, ...] = ()) -> list[Layer]:
    """The layers of the manifest at ``tag`` with their payloads ([] when there is none).

    Only layers of ``media_types`` (all when empty) have their blobs fetched.
    """
    manifest = registry.manifest(repository, tag)
    if manifest is None:
        return []
    try:
        data = json.loads(manifest.data)
        raw_layers = data.get("layers") or []
    except (ValueError, AttributeError):
        raise ExternalError(
            f"registry {registry.host}: {repository}:{tag} is not an image manifest"
        ) from None
    if len(raw_layers) > MAX_LAYERS:
        raise ExternalError(
            f"registry {registry.host}: {repository}:{tag} has {len(raw_layers)} layers "
            f"(more than {MAX_LAYERS})"
        )
    layers: list[Layer] = []
    for raw in raw_layers:
        if not isinstance(raw, dict):
            continue
        layer = Layer(
            str(raw.get("mediaType") or ""),
            str(raw.get("digest") or ""),
            int(raw.get("size") or 0),
            {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        )
        if not media_types or layer.media_type in media_types:
            layer.payload = registry.blob(repository, layer.digest)
        layers.append(layer)
    return layers


def config_for(layers: list[Layer]) -> bytes:
    """The image config go-containerregistry writes for an empty image with these layers appended."""
    body = {
        "architecture": "",
        "created": ZERO_TIME,
        "history": [{"created": ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "config": {},
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def append(registry: Registry, repository: str, tag: str, existing: list[Layer], added: list[Layer]) -> str:
    """Upload the added payloads and write ``tag`` with every layer; the new manifest's digest."""
    layers = [*existing, *added]
    if len(layers) > MAX_LAYERS:
        raise ExternalError(f"{repository}:{tag} would hold more than {MAX_LAYERS} layers")
    for layer in added:
        layer.digest = registry.put_blob(repository, layer.payload)
        layer.size = len(layer.payload)
    config = config_for(layers)
    config_digest = registry.put_blob(repository, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": [layer.descriptor() for layer in layers],
    }
    return registry.put_manifest(repository, tag, json.dumps(manifest, separators=(",", ":")).encode("utf-8"))
