"""The tool manifest (``docker/tools.yaml``, or an image's ``/etc/pipekit/image.json``): load and check it.

One format for both: a ``tools:`` mapping from each tool's name to its ``version`` and the rest of
its facts. Every problem is a :class:`BadInput` naming the file and the field, so a malformed
manifest, an unknown kind or a missing checksum stops a build or ``pipekit doctor`` with exit 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

ARCHES = ("amd64", "arm64")
KINDS = ("download", "debian", "python", "venv")
FORMATS = ("binary", "tar.gz", "zip")
_HEX = {"sha256": 64, "sha512": 128}
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


@dataclass(frozen=True)
class Signature:
    url: str
    key: str  # path of the armored public key, relative to the repository root
    fingerprint: str


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    kind: str
    url: str | None = None
    format: str | None = None
    member: str | None = None
    arch_names: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)  # arch -> "sha256:<hex>"
    signature: Signature | None = None
    reports: str | None = None
    variant: str | None = None
    package: str | None = None
    local: dict[str, Any] | None = None
    source_of_checksum: str | None = None
    included: bool = True  # image.json: False for a tool left out of this variant
    note: str | None = None  # image.json: why it was left out, or where it came from instead
    lock: str | None = None  # python, venv: the requirements lock the image installed (by hash)
    path: str | None = None  # venv: the virtualenv it lives in, apart from pipekit's
    stage: str | None = None  # "fetch": only in the download stage of the build, not in the image

    def expected_version(self) -> str:
        """The version the tool prints about itself: ``reports``, else the pin without epoch/revision."""
        if self.reports:
            return self.reports
        version = self.version
        if self.kind == "debian":
            version = version.split(":", 1)[-1].rsplit("-", 1)[0]
            version = re.split(r"[+~]dfsg|[+~]ds\d*|\+really", version)[0]
        return version.lstrip("v")

    def url_for(self, arch: str, template: str | None = None) -> str:
        text = template if template is not None else (self.url or "")
        return text.replace("{version}", self.version).replace("{arch}", self.arch_names.get(arch, arch))

    def checksum_for(self, arch: str) -> str:
        return self.checksums.get(arch) or self.checksums.get("noarch", "")


@dataclass(frozen=True)
class BaseImage:
    name: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}@{self.digest}"


@dataclass(frozen=True)
class Manifest:
    path: str
    tools: dict[str, Tool]
    base: BaseImage | None = None
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    variant: str | None = None  # image.json: the variant this image is
    arch: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tool(self, name: str) -> Tool:
        if name not in self.tools:
            raise BadInput(f"{self.path}: unknown tool {name!r} (known: {', '.join(sorted(self.tools))})")
        return self.tools[name]


def load(path: str | Path) -> Manifest:
    """Read a manifest file (YAML or JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read manifest {p}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, str(p))


def parse(text: str, name: str) -> Manifest:
    from pipekit.core import yamlload

    data = yamlload.load(text, name)  # malformed, too deep or an alias bomb: BadInput naming the file
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict) or not data["tools"]:
        raise BadInput(f"{name}: a manifest needs a non-empty `tools:` mapping of tool name -> facts")
    # An image's record (/etc/pipekit/image.json, with its `image:` facts) lists what was verified at
    # build time; only a source manifest must carry every checksum for every architecture.
    record = isinstance(data.get("image"), dict)
    tools = {str(n): _tool(name, str(n), facts, strict=not record) for n, facts in data["tools"].items()}
    base = _base(name, data["base"]) if isinstance(data.get("base"), dict) else None
    variants = data.get("variants") or {}
    if not isinstance(variants, dict):
        raise BadInput(f"{name}: variants must be a mapping of variant name -> facts")
    for tool in tools.values():
        if tool.variant and variants and tool.variant not in variants:
            raise BadInput(
                f"{name}: tools.{tool.name}.variant {tool.variant!r} is not one of {sorted(variants)}"
            )
    known = {"schema", "tools", "base", "variants", "variant", "arch", "image"}
    return Manifest(
        path=name,
        tools=tools,
        base=base,
        variants=variants,
        variant=data.get("variant"),
        arch=data.get("arch"),
        extra={k: v for k, v in data.items() if k not in known},
    )


def _base(name: str, data: Any) -> BaseImage:
    if not isinstance(data, dict):
        raise BadInput(f"{name}: base must be a mapping with name, tag and digest")
    missing = [k for k in ("name", "tag", "digest") if not data.get(k)]
    if missing:
        raise BadInput(f"{name}: base.{missing[0]} is missing (the base image is pinned by name and digest)")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(data["digest"])):
        raise BadInput(f"{name}: base.digest {data['digest']!r} is not sha256:<64 hex>")
    return BaseImage(name=str(data["name"]), tag=str(data["tag"]), digest=str(data["digest"]))


def _tool(name: str, tool: str, facts: Any, *, strict: bool = True) -> Tool:
    where = f"{name}: tools.{tool}"
    if not isinstance(facts, dict):
        raise BadInput(f"{where} must be a mapping with at least `version`")
    version = facts.get("version")
    if version is None or str(version).strip() == "":
        raise BadInput(f"{where}.version is missing")
    kind = facts.get("kind", "debian")
    if kind not in KINDS:
        raise BadInput(f"{where}.kind {kind!r} is not one of {', '.join(KINDS)}")
    included = facts.get("included", True) is not False
    checksums = _checksums(where, facts)
    signature = _signature(where, facts.get("signature"))
    fmt = facts.get("format")
    if kind == "venv" and strict and (not facts.get("lock") or not facts.get("path")):
        raise BadInput(
            f"{where}: a venv tool needs `lock` (its hash-pinned requirements) and `path` (its virtualenv)"
        )
    if kind == "download" and included and strict:
        if not facts.get("url"):
            raise BadInput(f"{where}.url is missing (a download needs its URL template)")
        if fmt not in FORMATS:
            raise BadInput(f"{where}.format {fmt!r} is not one of {', '.join(FORMATS)}")
        if signature is None:
            for arch in ARCHES:
                if not (checksums.get(arch) or checksums.get("noarch")):
                    raise BadInput(
                        f"{where}: no checksum for {arch} (a download needs sha256 or sha512 for "
                        f"every architecture, or a signature; set it with scripts/bump-tool.py)"
                    )
    arch_names = facts.get("arch") or {}
    if not isinstance(arch_names, dict):
        raise BadInput(f"{where}.arch must map amd64/arm64 to upstream's names")
    local = facts.get("local")
    if local is not None and (not isinstance(local, dict) or local.get("from") not in ("machine", "debian")):
        raise BadInput(
            f"{where}.local must be {{from: machine, command: ...}} or {{from: debian, version: ...}}"
        )
    return Tool(
        name=tool,
        version=str(version),
        kind=kind,
        url=facts.get("url"),
        format=fmt,
        member=facts.get("member"),
        arch_names={str(k): str(v) for k, v in arch_names.items()},
        checksums=checksums,
        signature=signature,
        reports=_opt(facts.get("reports")),
        variant=_opt(facts.get("variant")),
        package=_opt(facts.get("package")),
        local=local,
        source_of_checksum=_opt(facts.get("source_of_checksum")),
        included=included,
        note=_opt(facts.get("note")),
        lock=_opt(facts.get("lock")),
        stage=_opt(facts.get("stage")),
        path=_opt(facts.get("path")),
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _checksums(where: str, facts: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for algo, length in _HEX.items():
        table = facts.get(algo)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise BadInput(
                f"{where}.{algo} must map each architecture (amd64, arm64, or noarch) to a checksum"
            )
        for arch, value in table.items():
            if arch not in (*ARCHES, "noarch"):
                raise BadInput(f"{where}.{algo}.{arch}: unknown architecture (use amd64, arm64 or noarch)")
            text = "" if value is None else str(value).lower()
            if not re.fullmatch(rf"[0-9a-f]{{{length}}}", text):
                raise BadInput(f"{where}.{algo}.{arch} is not a {algo} ({length} hex digits): {value!r}")
            out[str(arch)] = f"{algo}:{text}"
    return out


def _signature(where: str, data: Any) -> Signature | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not data.get("url") or not data.get("key"):
        raise BadInput(f"{where}.signature needs url, key and fingerprint")
    fingerprint = str(data.get("fingerprint", "")).replace(" ", "").upper()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise BadInput(f"{where}.signature.fingerprint is not a 40-hex-digit key fingerprint")
    return Signature(url=str(data["url"]), key=str(data["key"]), fingerprint=fingerprint)
