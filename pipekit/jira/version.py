"""Which Jira version a build is: ``--version``, else the git tag, else the Maven project version.

The tag and the Maven version go through a pattern (``--version-pattern``): its ``version`` group,
else its first group, else the whole match. The default keeps the leading dotted numbers, so
``1.4.2-SNAPSHOT`` and ``v1.4.2`` both name ``1.4.2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipekit.core.errors import BadInput

DEFAULT_PATTERN = r"^v?(?P<version>\d+(?:\.\d+)+)"


@dataclass(frozen=True)
class ResolvedVersion:
    name: str
    source: str  # flag | tag | maven
    raw: str  # what the name was taken from


def compile_pattern(pattern: str, flag: str = "--version-pattern") -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadInput(
            f"{flag} {pattern!r} is not a valid regular expression: {exc}",
            hint=f"for example {DEFAULT_PATTERN!r}",
        ) from None


def apply(pattern: re.Pattern[str], raw: str, what: str) -> str:
    match = pattern.search(raw)
    if not match:
        raise BadInput(
            f"{what} {raw!r} does not match --version-pattern {pattern.pattern!r}",
            hint="pass --version NAME or a --version-pattern that matches",
        )
    if "version" in pattern.groupindex and match.group("version"):
        name = match.group("version")
    elif pattern.groups and match.group(1):
        name = match.group(1)
    else:
        name = match.group(0)
    if not name.strip():
        raise BadInput(f"--version-pattern {pattern.pattern!r} takes an empty version from {what} {raw!r}")
    return name


def resolve(
    explicit: str | None, tag: str | None, pom: Path, pattern: str = DEFAULT_PATTERN
) -> ResolvedVersion:
    compiled = compile_pattern(pattern)  # checked even when --version makes it unused: a typo is still a typo
    if explicit:
        return ResolvedVersion(explicit, "flag", explicit)
    if tag:
        return ResolvedVersion(apply(compiled, tag, "git tag"), "tag", tag)
    if pom.is_file():
        from pipekit.images.tags import maven_version

        raw = maven_version(pom)
        if raw:
            return ResolvedVersion(apply(compiled, raw, f"{pom} version"), "maven", raw)
    raise BadInput(
        f"no version to check: pass --version NAME, build from a git tag, or give a pom.xml with a "
        f"<version> (--pom; {pom} {'has none' if pom.is_file() else 'does not exist'})"
    )


def tag_of(reference: str) -> str | None:
    """The tag of an image reference ``name[:tag][@digest]`` (None without one)."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None
