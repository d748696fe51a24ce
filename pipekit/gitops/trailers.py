"""The one vocabulary of ``Pipekit-*`` trailers on GitOps commits: written by :func:`pairs`,
read by :func:`parse`.

update-tag, promote, rollback and init write their commits' trailers through :func:`pairs`;
history, dora, rollback and promote read them back through :func:`parse`, so every reader takes
back what every writer wrote. A commit holds the commit-wide keys, then one group per service::

    Pipekit-Environment: prod                         commit-wide (a promotion: several groups)
    Pipekit-Promoted-From: preprod
    Pipekit-Rollback-Of: <the GitOps commit rolled back>
    Pipekit-Build-Url: <the pipeline that wrote the commit>
    Pipekit-Init-Version: 0.9.0                        init only
    Pipekit-Template-Version: 3
    Pipekit-Service: orders                            one group per service from here
    Pipekit-Image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders   the image run (newName, else name)
    Pipekit-Image-Name: orders                         the overlay's images[].name, when not the image
    Pipekit-Tag: 1.4.2
    Pipekit-Digest: sha256:...
    Pipekit-Source-Commit: <the service repository's commit>
    Pipekit-Source-Committed-At: 2026-11-02T09:00:00+00:00
    Pipekit-Build-Number: 812                          the build that made the image (its overlay marker)

Reading is lenient about order (earlier pipekit versions wrote ``Pipekit-Build-Number`` after
the group and ``Pipekit-Environment`` after ``Pipekit-Service``): commit-wide keys count wherever
they stand, a group key before any ``Pipekit-Service`` applies to every group, and the first
value of a key wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

COMMIT_KEYS = (
    "Pipekit-Environment",
    "Pipekit-Promoted-From",
    "Pipekit-Rollback-Of",
    "Pipekit-Build-Url",
    "Pipekit-Init-Version",
    "Pipekit-Template-Version",
)
GROUP_KEYS = (
    "Pipekit-Service",
    "Pipekit-Image",
    "Pipekit-Image-Name",
    "Pipekit-Tag",
    "Pipekit-Digest",
    "Pipekit-Source-Commit",
    "Pipekit-Source-Committed-At",
    "Pipekit-Build-Number",
)
_LINE = re.compile(rb"^(Pipekit-[A-Za-z-]+): *(.*?) *$", re.MULTILINE)


@dataclass
class Group:
    """One service's image in a commit."""

    service: str
    image: str | None = None  # the image kustomize renders: the entry's newName, else its name
    image_name: str | None = None  # the images[].name edited, when it is not ``image``
    tag: str | None = None
    digest: str | None = None
    source_commit: str | None = None
    source_committed_at: str | None = None
    build_number: int | None = None

    @property
    def entry(self) -> str | None:
        """The overlay's images[].name this group edited."""
        return self.image_name or self.image


@dataclass
class Trailers:
    environment: str | None = None
    groups: list[Group] = field(default_factory=list)
    promoted_from: str | None = None
    rollback_of: str | None = None
    build_url: str | None = None
    init_version: str | None = None
    template_version: str | None = None

    def group(self, service: str) -> Group | None:
        return next((g for g in self.groups if g.service == service), None)


def pairs(t: Trailers) -> list[tuple[str, str | None]]:
    """The (key, value) lines of ``t`` in the one order, for :func:`pipekit.gitops.writer.message`."""
    out: list[tuple[str, str | None]] = [
        ("Pipekit-Environment", t.environment),
        ("Pipekit-Promoted-From", t.promoted_from),
        ("Pipekit-Rollback-Of", t.rollback_of),
        ("Pipekit-Build-Url", t.build_url),
        ("Pipekit-Init-Version", t.init_version),
        ("Pipekit-Template-Version", t.template_version),
    ]
    for g in t.groups:
        out += [
            ("Pipekit-Service", g.service),
            ("Pipekit-Image", g.image),
            ("Pipekit-Image-Name", g.image_name if g.image_name != g.image else None),
            ("Pipekit-Tag", g.tag),
            ("Pipekit-Digest", g.digest),
            ("Pipekit-Source-Commit", g.source_commit),
            ("Pipekit-Source-Committed-At", g.source_committed_at),
            ("Pipekit-Build-Number", str(g.build_number) if g.build_number is not None else None),
        ]
    return out


def parse(body: bytes | str) -> Trailers:
    """The ``Pipekit-*`` lines of a commit message (pipekit writes them one per line, unfolded)."""
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    common: dict[str, str] = {}
    before: dict[str, str] = {}  # group keys written before the first Pipekit-Service
    groups: list[dict[str, str]] = []
    for raw_key, raw_value in _LINE.findall(raw):
        key, value = raw_key.decode(), raw_value.decode("utf-8", "replace")
        if key in COMMIT_KEYS:
            common.setdefault(key, value)
        elif key == "Pipekit-Service":
            groups.append({key: value})
        elif groups:
            groups[-1].setdefault(key, value)
        else:
            before.setdefault(key, value)
    return Trailers(
        environment=common.get("Pipekit-Environment"),
        promoted_from=common.get("Pipekit-Promoted-From"),
        rollback_of=common.get("Pipekit-Rollback-Of"),
        build_url=common.get("Pipekit-Build-Url"),
        init_version=common.get("Pipekit-Init-Version"),
        template_version=common.get("Pipekit-Template-Version"),
        groups=[_group({**before, **g}) for g in groups],
    )


def _group(g: dict[str, str]) -> Group:
    build = g.get("Pipekit-Build-Number", "")
    return Group(
        service=g["Pipekit-Service"],
        image=g.get("Pipekit-Image") or None,
        image_name=g.get("Pipekit-Image-Name") or None,
        tag=g.get("Pipekit-Tag") or None,
        digest=g.get("Pipekit-Digest") or None,
        source_commit=g.get("Pipekit-Source-Commit") or None,
        source_committed_at=g.get("Pipekit-Source-Committed-At") or None,
        build_number=int(build) if build.isascii() and build.isdigit() else None,
    )


def commit_message(subject: str, body: Sequence[str], t: Trailers) -> str:
    """A GitOps commit message with ``t``'s trailer block: the one writer every step uses."""
    from pipekit.gitops.writer import message

    return message(subject, body, pairs(t))
