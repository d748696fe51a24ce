#!/usr/bin/env python3
"""Bump one tool in docker/tools.yaml: its version and its checksums together, plus a CHANGELOG line.

    scripts/bump-tool.py kubectl v1.33.1 --sha256-amd64 HEX --sha256-arm64 HEX
        --source "dl.k8s.io .sha256 files"
    scripts/bump-tool.py kustomize v5.6.0 --checksums checksums.txt  # a sha256sum-style file
    scripts/bump-tool.py git 1:2.39.5-0+deb12u4                          # a Debian package: version only

A download needs a checksum for every architecture (or a shared --sha256/--sha512 for an
architecture-independent archive); the old ones are never kept beside a new version. The file is
edited in place, keeping its comments and layout; the result is checked by loading it again.
Exit 2 on bad input (unknown tool, missing or malformed checksum) naming it.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.baseimage import manifest  # noqa: E402
from pipekit.core.errors import BadInput  # noqa: E402


def fail(message: str) -> int:
    print(f"bump-tool: {message}", file=sys.stderr)
    return 2


def checksums_from_file(path: Path, tool: manifest.Tool, version: str) -> dict[str, str]:
    """Pick each arch's file out of a sha256sum-style list (``HEX  name`` lines)."""
    bumped = manifest.Tool(**{**tool.__dict__, "version": version})
    wanted = {arch: Path(bumped.url_for(arch)).name for arch in manifest.ARCHES}
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            for arch, name in wanted.items():
                if parts[-1].lstrip("*") == name:
                    found[arch] = parts[0].lower()
    return found


def edit_block(
    text: str, name: str, version: str, sums: dict[str, str], algo: str, source: str | None
) -> str:
    """Replace the tool's version, its checksum table and its source, inside its block only."""
    m = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\s*\n)*)", text, re.M)
    if not m:
        raise BadInput(f"tools.{name}: no block to edit in docker/tools.yaml")
    block = m.group(1)
    block = re.sub(r"^    version: .*$", f"    version: {version}", block, count=1, flags=re.M)
    if sums:
        block = re.sub(r"^    sha(256|512):\n(?:      .*\n)+", "", block, flags=re.M)
        table = f"    {algo}:\n" + "".join(f"      {arch}: {value}\n" for arch, value in sums.items())
        block = re.sub(
            r"^(    version: .*\n)", r"\1" + table.replace("\\", "\\\\"), block, count=1, flags=re.M
        )
    if source:
        block = re.sub(r"^    source_of_checksum: (?:>-\n(?:      .*\n)+|.*\n)", "", block, flags=re.M)
        block = block.rstrip("\n") + f"\n    source_of_checksum: {source}\n"
        if m.group(1).endswith("\n\n"):
            block += "\n"
    return text[: m.start(1)] + block + text[m.end(1) :]


def changelog(path: Path, line: str) -> None:
    text = path.read_text()
    head = "## [Unreleased]\n"
    if head not in text:
        raise BadInput(f"{path}: no '## [Unreleased]' section to add to")
    start = text.index(head) + len(head)
    section_end = text.find("\n## ", start)
    section = text[start : section_end if section_end >= 0 else len(text)]
    if "### Changed\n" in section:
        at = start + section.index("### Changed\n") + len("### Changed\n")
        text = text[:at] + line + "\n" + text[at:]
    else:
        text = text[:start] + f"\n### Changed\n{line}\n" + text[start:]
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name")
    parser.add_argument("version")
    for arch in manifest.ARCHES:
        parser.add_argument(f"--sha256-{arch}", metavar="HEX")
    parser.add_argument("--sha256", metavar="HEX", help="one checksum for an architecture-independent file")
    parser.add_argument("--sha512", metavar="HEX", help="one sha512 for an architecture-independent file")
    parser.add_argument("--checksums", type=Path, help="a sha256sum-style checksum file from upstream")
    parser.add_argument("--source", help="where the checksums were read (kept in the manifest)")
    parser.add_argument("--manifest", type=Path, default=ROOT / "docker" / "tools.yaml")
    parser.add_argument("--changelog", type=Path, default=ROOT / "CHANGELOG.md")
    ns = parser.parse_args(argv)
    try:
        current = manifest.load(ns.manifest)
        tool = current.tool(ns.name)
        sums: dict[str, str] = {}
        algo = "sha256"
        if tool.kind == "download" and tool.signature is None:
            if ns.checksums:
                sums = checksums_from_file(ns.checksums, tool, ns.version)
            elif ns.sha512 or ns.sha256:
                algo = "sha512" if ns.sha512 else "sha256"
                sums = {"noarch": (ns.sha512 or ns.sha256).lower()}
            else:
                sums = {a: getattr(ns, f"sha256_{a}") for a in manifest.ARCHES if getattr(ns, f"sha256_{a}")}
            if "noarch" not in sums:
                missing = [a for a in manifest.ARCHES if a not in sums]
                if missing:
                    return fail(
                        f"{ns.name} {ns.version}: no checksum for {', '.join(missing)} "
                        f"(--sha256-{missing[0]} HEX or --checksums FILE)"
                    )
            if not ns.source:
                return fail(f"{ns.name}: say where the checksums come from (--source)")
        elif (
            any(getattr(ns, f"sha256_{a}") for a in manifest.ARCHES) or ns.checksums or ns.sha256 or ns.sha512
        ):
            return fail(
                f"{ns.name} is a {tool.kind} tool{' verified by signature' if tool.signature else ''}: "
                "it takes no checksums"
            )
        old = tool.version
        text = edit_block(ns.manifest.read_text(), ns.name, ns.version, sums, algo, ns.source)
        manifest.parse(text, str(ns.manifest))  # the edited file must load, checksums and all
        ns.manifest.write_text(text)
        changelog(
            ns.changelog,
            f"- Base image: {ns.name} {old} -> {ns.version}"
            + (" (checksums updated with it)" if sums else "")
            + f" ({date.today():%Y-%m-%d}).",
        )
    except BadInput as exc:
        return fail(str(exc))
    print(f"bump-tool: {ns.name} {old} -> {ns.version} in {ns.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
