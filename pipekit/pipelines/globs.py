"""Bitbucket's glob patterns: branch, tag and pull-request names, artifact and changeset paths.

Atlassian's page "Use glob patterns on the Pipelines yaml file": ``*`` matches within one path
segment (``feature/*`` does not match ``feature/a/b``), ``**`` matches across ``/``, ``?`` one
character, ``[abc]`` / ``[!abc]`` a class, ``{a,b}`` either alternative, ``\\`` escapes. In paths
(artifacts, ``changesets``) ``**/`` also matches no folder at all, so ``**/*.xml`` finds
``report.xml`` at the top.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern) + r"\Z", re.DOTALL)


def matches(pattern: str, name: str) -> bool:
    return compile_glob(pattern).match(name) is not None


def walk(root: Path) -> Iterator[str]:
    """Every file (and symlink) below ``root`` as a relative POSIX path, ``.git`` left out."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git" or folder != str(root)]
        rel = os.path.relpath(folder, root)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            yield name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_braces = False
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{" and not in_braces and "}" in pattern[i:]:
            in_braces = True
            out.append("(?:")
        elif c == "," and in_braces:
            out.append("|")
        elif c == "}" and in_braces:
            in_braces = False
            out.append(")")
        else:
            out.append(re.escape(c))
        i += 1
    if in_braces:  # an unclosed brace: take the pattern literally
        return re.escape(pattern)
    return "".join(out)
