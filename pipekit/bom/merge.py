"""One CycloneDX document out of cdxgen's Maven and image BOMs.

The Maven BOM's ``metadata.component`` (the service) describes the whole document; the image
becomes a ``container`` component beside it. Components are kept once by ``bom-ref`` (else
purl, else name@version); dependencies are joined per ref.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any


def _key(component: dict[str, Any]) -> str:
    return str(
        component.get("bom-ref")
        or component.get("purl")
        or f"{component.get('name')}@{component.get('version')}"
    )


def merge(boms: list[dict[str, Any]]) -> dict[str, Any]:
    if len(boms) == 1:
        return boms[0]
    first = boms[0]
    metadata = dict(first.get("metadata") or {})
    components: dict[str, dict[str, Any]] = {}
    depends: dict[str, list[str]] = {}
    for bom in boms:
        for component in bom.get("components") or []:
            components.setdefault(_key(component), component)
        for dep in bom.get("dependencies") or []:
            ref = str(dep.get("ref"))
            merged = depends.setdefault(ref, [])
            merged.extend(d for d in dep.get("dependsOn") or [] if d not in merged)
    for bom in boms[1:]:  # the image (and any other part) as a component of the document
        described = (bom.get("metadata") or {}).get("component")
        if isinstance(described, dict) and described.get("name"):
            components.setdefault(_key(described), described)
    metadata["timestamp"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": first.get("specVersion", "1.6"),
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": metadata,
        "components": list(components.values()),
        "dependencies": [{"ref": ref, "dependsOn": sorted(deps)} for ref, deps in depends.items()],
    }
