"""Image names, tags and labels: one documented tag scheme, and Docker's rules checked up front.

The scheme (first tag = the image reference recorded for later steps):

==========  =====================================  ===================================
kind        tag                                    when
==========  =====================================  ===================================
sha         short commit SHA, ``3f9a2c1``          a commit is known
build       ``build-<n>``, ``build-42``            ``BITBUCKET_BUILD_NUMBER`` is set
version     Maven version, ``1.4.2``;              ``pom.xml`` has a version
            ``<version>-<sha>`` for ``-SNAPSHOT``
branch      branch-safe name, ``feature-jira-12``  branch builds
semver      ``1.2.3``, ``1.2``, ``1`` from ``v1.2.3``  tag builds with a semver tag;
            (pre-releases: only ``1.2.3-rc.1``)     other git tags: the tag-safe name
==========  =====================================  ===================================

A tag must match ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`` (Docker's rule); anything else is
:class:`BadInput` before anything is built.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pipekit.core.errors import BadInput

TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# registry host[:port]/ then lower-case path components (distribution's reference grammar)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(
    rf"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
)
LABEL_KEY_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?")
SEMVER_RE = re.compile(
    r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?"
)
TagKind = Literal["sha", "build", "version", "branch", "semver"]
KINDS: tuple[str, ...] = get_args(TagKind)
OCI = "org.opencontainers.image."


@dataclass
class TagInputs:
    commit: str | None = None
    build_number: str | None = None
    version: str | None = None
    branch: str | None = None
    git_tag: str | None = None
    sha_length: int = 7


def validate_tag(tag: str, *, source: str = "tag") -> str:
    if not TAG_RE.fullmatch(tag):
        why = (
            "longer than 128 characters"
            if len(tag) > 128
            else "only letters, digits, '_', '.' and '-' allowed, not starting with '.' or '-'"
        )
        raise BadInput(f"{source} {tag!r} is not a valid Docker tag: {why}")
    return tag


def validate_name(name: str, *, source: str = "image name") -> str:
    if not name or not NAME_RE.fullmatch(name) or len(name) > 255:
        raise BadInput(
            f"{source} {name!r} is not a valid image name: lower-case path components "
            "[a-z0-9] joined by '.', '_', '__' or '-', optional registry host[:port]/ prefix, no tag"
        )
    return name


def validate_labels(labels: Mapping[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not LABEL_KEY_RE.fullmatch(key):
            raise BadInput(
                f"label key {key!r} is not valid: letters, digits, '.', '-', '/' and '_', "
                "starting and ending with a letter or digit"
            )
        bad = next((ch for ch in value if ord(ch) < 0x20 and ch != "\t" or ord(ch) == 0x7F), None)
        if bad is not None:
            raise BadInput(f"label {key}: value {value[:40]!r} contains the control character {bad!r}")
        if len(value) > 4096:
            raise BadInput(f"label {key}: value is {len(value)} characters long, more than 4096")
    return dict(labels)


def safe_name(text: str) -> str:
    """A branch or git tag as a tag: accents dropped, lower case, invalid runs -> '-',
    at most 128 characters."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    out = re.sub(r"[^a-z0-9_.-]+", "-", plain.lower())
    out = re.sub(r"-{2,}", "-", out).strip("-.")
    if len(out) > 128:  # keep it unique: cut and add a short hash of the full name
        out = out[:119].rstrip("-.") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return out or "unnamed"


def semver_tags(git_tag: str) -> list[str]:
    m = SEMVER_RE.fullmatch(git_tag)
    if not m:
        return [safe_name(git_tag)]
    core = f"{m['major']}.{m['minor']}.{m['patch']}"
    if m["pre"]:
        return [f"{core}-{m['pre']}"]
    return [core, f"{m['major']}.{m['minor']}", m["major"]]


def compute_tags(inputs: TagInputs, kinds: Iterable[str] = KINDS, extra: Iterable[str] = ()) -> list[str]:
    """Tags of the documented scheme, in order, without duplicates, each validated."""
    short = inputs.commit[: inputs.sha_length] if inputs.commit else None
    tags: list[str] = []
    for kind in kinds:
        if kind not in KINDS:
            raise BadInput(f"unknown tag kind {kind!r}: choose from {', '.join(KINDS)}")
        if kind == "sha" and short:
            tags.append(short)
        elif kind == "build" and inputs.build_number:
            tags.append(f"build-{inputs.build_number}")
        elif kind == "version" and inputs.version:
            snapshot = inputs.version.endswith("-SNAPSHOT")
            tags.append(f"{inputs.version}-{short}" if snapshot and short else inputs.version)
        elif kind == "branch" and inputs.branch and not inputs.git_tag:
            tags.append(safe_name(inputs.branch))
        elif kind == "semver" and inputs.git_tag:
            tags.extend(semver_tags(inputs.git_tag))
    tags.extend(extra)
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(validate_tag(tag), None)
    return list(seen)


def oci_labels(
    *, revision: str | None, source: str | None, created: str, version: str | None, title: str | None
) -> dict[str, str]:
    values = {"revision": revision, "source": source, "created": created, "version": version, "title": title}
    return {OCI + key: value for key, value in values.items() if value}


# -- pom.xml -------------------------------------------------------------------
_PROP = re.compile(r"\$\{([^}]+)\}")


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _load_pom(path: Path) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, col = exc.position
        raise BadInput(f"{path}:{line}:{col}: pom.xml is not valid XML") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    _strip_ns(root)
    return root


def maven_version(pom: Path, overrides: Mapping[str, str] | None = None) -> str | None:
    """The project version from ``pom.xml``: own or parent version, ``${...}`` resolved from
    properties of the pom and its local parents and from ``-Dkey=value`` overrides."""
    root = _load_pom(pom)
    props: dict[str, str] = {}
    chain = [root]
    current, current_path = root, pom
    for _ in range(10):  # local parents through <relativePath> (default ../pom.xml)
        parent = current.find("parent")
        if parent is None:
            break
        rel = (parent.findtext("relativePath") or "../pom.xml").strip()
        if not rel:
            break
        candidate = current_path.parent / rel
        candidate = candidate / "pom.xml" if candidate.is_dir() else candidate
        if not candidate.is_file():
            break
        current, current_path = _load_pom(candidate), candidate
        chain.append(current)
    for node in reversed(chain):
        props_el = node.find("properties")
        if props_el is not None:
            props.update(
                {child.tag: (child.text or "").strip() for child in props_el if isinstance(child.tag, str)}
            )
    props.update(overrides or {})
    raw = (root.findtext("version") or root.findtext("parent/version") or "").strip()
    if not raw:
        return None
    parent_version = (root.findtext("parent/version") or "").strip()
    props.setdefault("project.parent.version", parent_version)

    def resolve(text: str, depth: int = 0) -> str:
        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in props:
                raise BadInput(
                    f"{pom}: version {raw!r} uses ${{{key}}}, which is not defined in the pom, its "
                    f"local parents or the Maven arguments",
                    hint=f"pass -D{key}=... in --maven-args",
                )
            return resolve(props[key], depth + 1) if depth < 10 else props[key]

        return _PROP.sub(sub, text)

    return resolve(raw)


def maven_overrides(maven_args: Iterable[str]) -> dict[str, str]:
    """``-Dkey=value`` pairs from Maven arguments (CI-friendly versions: ``-Drevision=1.2.3``)."""
    out: dict[str, str] = {}
    args = list(maven_args)
    for i, arg in enumerate(args):
        if arg == "-D" and i + 1 < len(args):
            arg = "-D" + args[i + 1]
        if arg.startswith("-D") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            out[key] = value
    return out


def pom_name(pom: Path) -> str | None:
    root = _load_pom(pom)
    return (root.findtext("artifactId") or "").strip() or None
