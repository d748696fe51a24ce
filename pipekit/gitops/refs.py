"""Image references and their syntax: what a tag and a digest may look like (no YAML here)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipekit.core.errors import BadInput

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def reference(name: str, tag: str | None, digest: str | None) -> str:
    """``name[:tag][@digest]``."""
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@dataclass
class ImageRef:
    """One ``images:`` entry (or the wanted values for one)."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None
    build: int | None = None  # the pipeline build that wrote it (the ``# pipekit:build=N`` marker)

    @property
    def reference(self) -> str:
        """The image reference kustomize renders: ``name[:tag][@digest]``."""
        return reference(self.new_name or self.name, self.new_tag, self.digest)

    @property
    def version(self) -> str:
        return self.new_tag or (self.digest[:19] if self.digest else "(none)")


def check_tag(tag: str) -> None:
    if not TAG_RE.fullmatch(tag):
        raise BadInput(
            f"tag {tag!r} is not a valid image tag",
            hint="letters, digits, '_', '.', '-'; not starting with '.' or '-'; at most 128 characters",
        )


def check_digest(digest: str) -> None:
    if not DIGEST_RE.fullmatch(digest):
        raise BadInput(
            f"digest {digest!r} is not valid", hint="expected sha256: followed by 64 lowercase hex digits"
        )
