"""The dependency tree Maven resolved for the build, read from Maven's own debug output.

``mvn -X`` prints, for each project it builds, the tree its dependency resolver settled on
(after version mediation and exclusions), right below ``Dependency collection stats``::

    [DEBUG] com.example:demo-service:jar:1.0.0
    [DEBUG]    com.fasterxml.jackson.core:jackson-databind:jar:2.17.2:compile
    [DEBUG]       com.fasterxml.jackson.core:jackson-core:jar:2.17.2:compile

Three spaces a level, ``group:artifact:type[:classifier]:version:scope``: the shape of
``mvn dependency:tree``'s text output, which cdxgen reads. pipekit runs ``test-compile`` with
main and test compilation skipped (the resolver still resolves every scope), offline when asked,
and keeps the trees whose root is one of the projects built (plugins' trees are printed too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pipekit.core.errors import BadInput

SCOPES = {
    "runtime": ("compile", "provided", "runtime", "system"),
    "test": ("test",),
    "all": ("compile", "provided", "runtime", "system", "test"),
}
_DEBUG = "[DEBUG] "
_PROJECT = re.compile(r"^\[DEBUG\] Project: (\S+:\S+:\S+:\S+)\s*$")
_NODE = re.compile(r"^( *)(\S+)(?: \((optional)\)| \([^)]*\))*\s*$")


def goals(offline: bool) -> list[str]:
    return [
        "-B",
        "-X",
        "-Dstyle.color=never",
        *(["-o"] if offline else []),
        "test-compile",
        "-Dmaven.main.skip=true",
        "-Dmaven.test.skip=true",
    ]


def project_trees(output: str) -> list[str]:
    """Every built project's tree from ``mvn -X`` output, as dependency:tree text lines."""
    lines = output.splitlines()
    projects = {m.group(1) for m in map(_PROJECT.match, lines) if m}
    trees: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        if "Dependency collection stats" not in lines[i] or i + 1 >= len(lines):
            i += 1
            continue
        root = lines[i + 1][len(_DEBUG) :].strip() if lines[i + 1].startswith(_DEBUG) else ""
        i += 2
        block: list[str] = [root]
        while i < len(lines) and lines[i].startswith(_DEBUG + " "):
            node = _NODE.match(lines[i][len(_DEBUG) :])
            if node:
                block.append(node.group(1) + node.group(2) + (" (optional)" if node.group(3) else ""))
            i += 1
        if root in projects and root not in seen:
            seen.add(root)
            trees.extend(block)
    return trees


def keep_scope(tree: list[str], scope: str) -> list[str]:
    """The tree without the nodes (and their subtrees) outside ``scope``; roots always stay."""
    wanted = SCOPES[scope]
    out: list[str] = []
    dropping_below: int | None = None
    for line in tree:
        level = (len(line) - len(line.lstrip(" "))) // 3
        if dropping_below is not None and level > dropping_below:
            continue
        dropping_below = None
        coordinate = line.strip().removesuffix(" (optional)")
        if level > 0 and coordinate.rsplit(":", 1)[-1] not in wanted:
            dropping_below = level
            continue
        out.append(line)
    return out


def resolved_tree(
    project_dir: Path,
    *,
    scope: str,
    offline: bool,
    env: Mapping[str, str],
    timeout: float,
    maven: str | None = None,
) -> list[str]:
    """Run Maven on ``project_dir`` and return its resolved tree for ``scope``; exit 2 when it cannot."""
    from pipekit.clients.maven import find_executable
    from pipekit.core import process

    if not (project_dir / "pom.xml").is_file():
        raise BadInput(f"{project_dir / 'pom.xml'}: no pom.xml (pass --project-dir, or --no-maven)")
    executable = find_executable(project_dir, maven, env)
    result = process.run(
        [executable, *goals(offline)],
        cwd=project_dir,
        env=dict(env),
        timeout=timeout,
        check=False,
        what="mvn -X test-compile (the resolved dependency tree)",
    )
    if not result.ok:
        errors = [ln for ln in result.stdout.splitlines() if ln.startswith("[ERROR]")]
        reason = errors[0][len("[ERROR] ") :] if errors else f"exit {result.returncode}"
        raise BadInput(
            f"{project_dir}: Maven could not resolve the dependencies: {reason[:300]}",
            hint="run the build first (pipekit build) so the local repository holds them"
            + ("; or drop --maven-offline" if offline else ""),
        )
    tree = project_trees(result.stdout)
    if not tree:
        raise BadInput(f"{project_dir}: Maven printed no dependency tree (is this a Maven 3.6+ project?)")
    return keep_scope(tree, scope)
