"""From the manifest to what a build needs: build arguments, ``/etc/pipekit/image.json`` and OCI labels.

``python -m pipekit.baseimage.buildargs --variant jdk17 --out-dir build/image`` writes
``build-args`` and ``labels`` (one ``KEY=VALUE`` a line, read by ``scripts/build-image.sh``) and
``context/image.json``. With ``--local-url``, tools that only a release server provides are taken
from this machine (``local: {from: machine}``), copied into ``--local-dir`` with a ``SHA256SUMS``
file the build verifies against, or from Debian (``local: {from: debian}``), or left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.baseimage.manifest import ARCHES, Manifest, Tool, load


def arg_prefix(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def tool_args(tool: Tool) -> list[str]:
    """Every build argument name the Dockerfile must declare for ``tool`` (also when it is left out)."""
    p = arg_prefix(tool.name)
    if tool.kind == "debian":
        return [f"{p}_VERSION"]
    if tool.kind != "download":
        return []
    names = [f"{p}_VERSION", f"{p}_FORMAT", f"{p}_MEMBER"]
    names += [f"{p}_URL_{a.upper()}" for a in ARCHES] + [f"{p}_SUM_{a.upper()}" for a in ARCHES]
    if tool.signature:
        names += [f"{p}_SIG_URL_{a.upper()}" for a in ARCHES] + [f"{p}_SIG_FINGERPRINT", f"{p}_SIG_KEY"]
    if tool.local and tool.local.get("from") == "debian":
        names.append(f"{p}_DEBIAN_VERSION")
    return names


def expected_arg_names(manifest: Manifest) -> set[str]:
    names = {"BASE_IMAGE", "JDK", "PIPEKIT_VERSION"}
    for tool in manifest.tools.values():
        names.update(tool_args(tool))
    return names


@dataclass
class Plan:
    args: dict[str, str] = field(default_factory=dict)
    image: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    local_files: dict[str, Path] = field(default_factory=dict)  # served name -> file on this machine


def plan(
    manifest: Manifest,
    variant: str,
    pipekit_version: str,
    *,
    local_url: str | None = None,
    host_arch: str = "amd64",
    base_image: str | None = None,
) -> Plan:
    if manifest.variants and variant not in manifest.variants:
        raise SystemExit(f"unknown variant {variant!r}: one of {', '.join(manifest.variants)}")
    out = Plan()
    base = base_image or (manifest.base.reference if manifest.base else "")
    out.args.update(BASE_IMAGE=base, JDK=variant.removeprefix("jdk"), PIPEKIT_VERSION=pipekit_version)
    tools: dict[str, Any] = {}
    for tool in manifest.tools.values():
        entry: dict[str, Any] = {"version": tool.version, "kind": tool.kind}
        if tool.reports:
            entry["reports"] = tool.reports
        if tool.variant:
            entry["variant"] = tool.variant
        if tool.package:
            entry["package"] = tool.package
        in_variant = tool.variant in (None, variant)
        if tool.kind == "debian":
            out.args[f"{arg_prefix(tool.name)}_VERSION"] = tool.version if in_variant else ""
            entry.update(
                source=f"Debian bookworm package {tool.package or tool.name}={tool.version}",
                checksum="apt: Release file signed by the Debian archive key",
            )
        elif tool.kind == "download":
            _download(out, tool, entry, in_variant, local_url, host_arch)
        elif tool.kind == "venv":
            lock = Path(tool.lock or "").name
            entry.update(
                source=f"PyPI by hash (pip --require-hashes) from docker/{lock}, in its own virtualenv "
                f"{tool.path}",
                lock=f"/etc/pipekit/{lock}",
                path=tool.path,
            )
        else:
            entry.update(
                version=pipekit_version if tool.name == "pipekit" else tool.version,
                source="this repository's wheel; dependencies from docker/requirements.lock "
                "(pip --require-hashes)",
                lock="/etc/pipekit/requirements.lock",
            )
        if not in_variant:
            entry.update(included=False, note=f"only in the {tool.variant} variant")
        elif tool.stage == "fetch":
            entry.update(included=False, note="used only in the build's download stage, not in the image")
        tools[tool.name] = entry
    out.image = {
        "schema": 1,
        "image": {"pipekit": pipekit_version, "local": local_url is not None},
        "variant": variant,
        "arch": host_arch if local_url else "from TARGETARCH",
        "base": base,
        "tools": tools,
    }
    out.labels = _labels(out.image, pipekit_version, variant)
    return out


def _download(
    out: Plan, tool: Tool, entry: dict[str, Any], in_variant: bool, local_url: str | None, host_arch: str
) -> None:
    p = arg_prefix(tool.name)
    args = dict.fromkeys(tool_args(tool), "")
    args[f"{p}_VERSION"] = tool.version
    args[f"{p}_FORMAT"] = tool.format or ""
    args[f"{p}_MEMBER"] = tool.url_for("amd64", tool.member or "")
    local = tool.local or {}
    if not in_variant:
        pass
    elif local_url is None:
        for arch in ARCHES:
            args[f"{p}_URL_{arch.upper()}"] = tool.url_for(arch)
            args[f"{p}_SUM_{arch.upper()}"] = tool.checksum_for(arch)
            if tool.signature:
                args[f"{p}_SIG_URL_{arch.upper()}"] = tool.url_for(arch, tool.signature.url)
        if tool.signature:
            args[f"{p}_SIG_FINGERPRINT"] = tool.signature.fingerprint
            args[f"{p}_SIG_KEY"] = tool.signature.key
        entry.update(
            source=tool.url or "",
            checksum={a: tool.checksum_for(a) for a in ARCHES}
            if not tool.signature
            else f"gpg signature, key {tool.signature.fingerprint}",
            source_of_checksum=tool.source_of_checksum,
        )
    elif local.get("from") == "machine":
        found = find_on_machine(tool, str(local.get("command") or tool.name))
        served = tool.name
        out.local_files[served] = found
        args[f"{p}_URL_{host_arch.upper()}"] = f"{local_url}/{served}"
        args[f"{p}_SUM_{host_arch.upper()}"] = "sha256:" + sha256_file(found)
        args[f"{p}_FORMAT"] = "binary"
        entry.update(
            source=f"this machine's {found}, served on 127.0.0.1 by scripts/build-image.sh --local",
            checksum={host_arch: args[f"{p}_SUM_{host_arch.upper()}"]},
            note="local variant: not upstream's file (upstream's checksum is in docker/tools.yaml); "
            "verified against the SHA256SUMS file the build script wrote",
        )
    elif local.get("from") == "debian":
        args[f"{p}_DEBIAN_VERSION"] = str(local["version"])
        entry.update(
            version=str(local["version"]),
            kind="debian",
            package=local.get("package") or tool.name,
            source=f"Debian bookworm package {local.get('package') or tool.name}={local['version']}",
            checksum="apt: Release file signed by the Debian archive key",
            note=f"local variant: Debian's package instead of upstream {tool.version} "
            f"(release server not reachable)",
        )
        entry.pop("reports", None)
    else:
        entry.update(
            included=False,
            note="left out of the local variant: only an upstream release server "
            "provides it and none is reachable from this machine",
        )
    out.args.update(args)


def find_on_machine(tool: Tool, command: str) -> Path:
    """This machine's binary of ``tool`` at the pinned version (past wrappers such as gcloud's dispatcher)."""
    from pipekit.diagnostics.tools import probe_version

    first = shutil.which(command)
    if not first:
        raise SystemExit(f"--local: {command} is not on PATH; install it or leave {tool.name} out")
    resolved = Path(first).resolve()
    want = tool.expected_version()
    minor = ".".join(want.split(".")[:2])
    for candidate in (resolved, resolved.with_name(f"{resolved.name}.{minor}")):
        if candidate.is_file() and probe_version(tool.name, str(candidate)) == want:
            return candidate
    raise SystemExit(f"--local: no {command} at version {want} on this machine (looked at {resolved})")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _labels(image: dict[str, Any], version: str, variant: str) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": "pipekit-base",
        "org.opencontainers.image.version": f"{version}-{variant}",
        "org.opencontainers.image.base.name": str(image["base"]),
        "org.opencontainers.image.description": "pipekit CI/CD steps with the tools they drive; "
        "see /etc/pipekit/image.json",
    }
    for name, entry in image["tools"].items():
        if entry.get("included", True) is False:
            labels[f"io.pipekit.tool.{name}"] = f"not in the image: {entry.get('note', '')}"
            continue
        checksum = entry.get("checksum", "")
        if isinstance(checksum, dict):
            checksum = " ".join(f"{a}={v}" for a, v in checksum.items())
        labels[f"io.pipekit.tool.{name}"] = f"{entry['version']} | {entry.get('source', '')} | {checksum}"
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipekit.baseimage.buildargs", description=__doc__)
    parser.add_argument("--manifest", default="docker/tools.yaml")
    parser.add_argument("--variant", default="jdk17")
    parser.add_argument("--pipekit-version", required=True)
    parser.add_argument("--out-dir", default="build/image")
    parser.add_argument("--local-url", help="base URL of the local HTTP server (enables the local variant)")
    parser.add_argument("--local-dir", help="folder the local server serves; gets the files and SHA256SUMS")
    parser.add_argument("--host-arch", default="amd64")
    parser.add_argument("--base-image", help="override the manifest's base image reference")
    ns = parser.parse_args(argv)
    from pipekit.core.errors import BadInput

    try:
        result = plan(
            load(ns.manifest),
            ns.variant,
            ns.pipekit_version,
            local_url=ns.local_url,
            host_arch=ns.host_arch,
            base_image=ns.base_image,
        )
    except BadInput as exc:
        print(f"buildargs: {exc}", file=sys.stderr)
        return 2
    out = Path(ns.out_dir)
    (out / "context").mkdir(parents=True, exist_ok=True)
    (out / "build-args").write_text("".join(f"{k}={v}\n" for k, v in result.args.items()))
    (out / "labels").write_text("".join(f"{k}={v}\n" for k, v in result.labels.items()))
    (out / "context" / "image.json").write_text(json.dumps(result.image, indent=2, sort_keys=True) + "\n")
    if result.local_files:
        serve = Path(ns.local_dir or out / "serve")
        serve.mkdir(parents=True, exist_ok=True)
        sums = []
        for served, source in result.local_files.items():
            shutil.copyfile(source, serve / served)
            sums.append(f"{sha256_file(serve / served)}  {served}\n")
        (serve / "SHA256SUMS").write_text("".join(sums))
    return 0


if __name__ == "__main__":
    sys.exit(main())
