"""OWASP CycloneDX cdxgen, run on a Maven project (through pipekit's tree) or an image archive.

cdxgen is the CycloneDX project's own generator (npm ``@cyclonedx/cdxgen``, pinned in
``scripts/cdxgen/package-lock.json``). For Maven it asks ``mvn dependency:tree``; ``MVN_CMD``
points it at :mod:`pipekit.bom.mvn_shim`, which answers with the tree the build resolved. For
an image (a ``docker save`` or OCI archive) it lists the OS packages (its bundled plugins read
the package databases) and the jars inside. License look-ups on the network are off.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput, ExternalError

INSTALL_HINT = (
    "npm install @cyclonedx/cdxgen@12.8.4 (scripts/cdxgen/package.json) and put its bin on PATH, "
    "or set PIPEKIT_CDXGEN to the cdxgen command"
)
SPEC_VERSION = "1.6"


def executable(command: str, env: Mapping[str, str]) -> str:
    found = (
        command
        if os.sep in command and os.access(command, os.X_OK)
        else shutil.which(command, path=env.get("PATH"))
    )
    if not found:
        raise BadInput(f"cdxgen not found ({command!r})", hint=INSTALL_HINT)
    return found


def _env(env: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    out.update(
        {"FETCH_LICENSE": "false", "CDXGEN_TELEMETRY": "false", "DO_NOT_TRACK": "1", "NODE_NO_WARNINGS": "1"}
    )
    out.update(extra)
    return out


def run(
    cdxgen: str,
    kind: str,
    target: Path,
    out: Path,
    *,
    env: Mapping[str, str],
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``cdxgen -t KIND TARGET``; the BOM it wrote (exit 3 when it fails or writes none)."""
    from pipekit.core import process

    argv = [
        cdxgen,
        "-t",
        kind,
        "--spec-version",
        SPEC_VERSION,
        "--no-install-deps",
        "--no-recurse",
        "--no-validate",
        "-o",
        str(out),
        str(target),
    ]
    result = process.run(
        argv, env=_env(env, extra_env or {}), timeout=timeout, check=False, what=f"cdxgen -t {kind}"
    )
    if not result.ok or not out.is_file():
        tail = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()][-3:]
        raise ExternalError(
            f"cdxgen -t {kind} {target} failed (exit {result.returncode}): " + " | ".join(tail)[:400]
        )
    try:
        bom: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExternalError(f"cdxgen -t {kind} wrote no JSON BOM: {exc}") from None
    return bom


def maven(
    cdxgen: str, project_dir: Path, tree: list[str], work: Path, *, env: Mapping[str, str], timeout: float
) -> dict[str, Any]:
    """The BOM of a Maven project, from the resolved ``tree`` (dependency:tree text lines)."""
    from pipekit.bom.mvn_shim import TREE_VARIABLE

    tree_file = work / "maven-tree.txt"
    tree_file.write_text("\n".join(tree) + "\n", encoding="utf-8")
    shim = work / "mvn"
    package_root = Path(__file__).resolve().parents[2]
    shim.write_text(
        f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {str(package_root)!r})\n"
        "from pipekit.bom.mvn_shim import main\nsys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    shim.chmod(0o755)
    extra = {
        "MVN_CMD": str(shim),
        TREE_VARIABLE: str(tree_file),
        "PREFER_MAVEN_DEPS_TREE": "true",
        "CDX_MAVEN_INCLUDE_TEST_SCOPE": "true",
    }
    return run(
        cdxgen, "java", project_dir, work / "maven.cdx.json", env=env, timeout=timeout, extra_env=extra
    )


def image(
    cdxgen: str, archive: Path, work: Path, *, env: Mapping[str, str], timeout: float
) -> dict[str, Any]:
    """The BOM of an image archive: OS packages and the jars inside."""
    return run(cdxgen, "docker", archive, work / "image.cdx.json", env=env, timeout=timeout)


def version(cdxgen: str, env: Mapping[str, str]) -> str:
    import re

    from pipekit.core import process

    result = process.run(
        [cdxgen, "--version"], env=_env(env, {}), timeout=60, check=False, what="cdxgen --version"
    )
    found = re.search(r"\b(\d+\.\d+\.\d+)", result.stdout)
    return found.group(1) if found else "unknown"


def workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="pipekit-sbom-")
