"""A stand-in for ``mvn`` that cdxgen runs (``MVN_CMD``): it answers ``dependency:tree`` only.

cdxgen asks Maven for the dependency tree with ``mvn dependency:tree -DoutputFile=F`` (first
``-DoutputType=json``, then text). The maven-dependency-plugin cannot be downloaded where
Maven Central is out of reach, so pipekit reads the tree the build itself resolved first
(:mod:`pipekit.bom.maven`) and this stand-in writes it where cdxgen asked, in
``dependency:tree``'s text form. Everything else (JSON output, the CycloneDX Maven plugin) is
refused, and cdxgen moves on to the text tree. Standard library only: it runs once per cdxgen
call to Maven and must start fast.
"""

from __future__ import annotations

import os
import sys

TREE_VARIABLE = "PIPEKIT_SBOM_MAVEN_TREE"


def main(argv: list[str]) -> int:
    tree_file = os.environ.get(TREE_VARIABLE)
    out = next((a.split("=", 1)[1] for a in argv if a.startswith("-DoutputFile=")), None)
    if "dependency:tree" not in argv or not out or not tree_file:
        print(
            f"pipekit: this mvn only answers dependency:tree -DoutputFile=FILE (got: {' '.join(argv)})",
            file=sys.stderr,
        )
        return 1
    if any(a == "-DoutputType=json" for a in argv):
        print("pipekit: only the text tree is available", file=sys.stderr)
        return 1
    with open(tree_file, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    if "-N" in argv:  # the parent project alone
        lines = lines[:1]
    with open(out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
