"""Label and field selectors (``k=v,k2=v2``; ``metadata.name``, ``metadata.namespace``) and the API
server's ``Status`` error bodies, for the stand-in."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def pairs(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().rstrip("=")] = value.lstrip("=").strip()
    return out


def selected(obj: Obj, labels: dict[str, str], fields: dict[str, str]) -> bool:
    meta = obj.get("metadata") or {}
    if any((meta.get("labels") or {}).get(k) != v for k, v in labels.items()):
        return False
    return all(
        not (k == "metadata.name" and meta.get("name") != v)
        and not (k == "metadata.namespace" and meta.get("namespace") != v)
        for k, v in fields.items()
    )


def status(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body
