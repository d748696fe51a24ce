"""A local image saved as an archive cdxgen reads (``docker save`` / OCI archive)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from pipekit.core.errors import BadInput


def save(ref: str, tool: str, dest: Path, *, env: Mapping[str, str], timeout: float) -> Path:
    """Write the local image ``ref`` of ``tool``'s store to ``dest``; an existing .tar is used as it is."""
    from pipekit.core import process
    from pipekit.core.errors import PipekitError

    given = Path(ref)
    if ref.endswith(".tar") and given.is_file():
        return given
    argv = {
        "buildah": ["buildah", "push", "--quiet", ref, f"oci-archive:{dest}"],
        "podman": ["podman", "save", "--quiet", "--format", "oci-archive", "-o", str(dest), ref],
        "docker": ["docker", "save", "-o", str(dest), ref],
    }[tool]
    if not shutil.which(argv[0], path=env.get("PATH")):
        raise BadInput(
            f"{argv[0]} not found: it saves the image {ref} for the SBOM",
            hint="pass --container-tool, or --image PATH.tar of an image archive",
        )
    try:
        process.run(argv, env=dict(env), timeout=timeout, what=f"{tool} save {ref}")
    except PipekitError as exc:
        raise BadInput(
            f"image {ref}: {tool} could not save it ({exc.message})",
            hint="build it first (pipekit build), or pass --image PATH.tar",
        ) from None
    return dest
