"""``bitbucket-pipelines.yml`` read with the line of every node, anchors and merge keys resolved.

Bitbucket documents YAML anchors, aliases and ``<<:`` merge keys for reusing steps, so they are
resolved here (through :func:`pipekit.core.yamlload.compose`, which bounds alias expansion). Each
value's place in the document (a path of keys and indexes) maps to its line, so that every
complaint names ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from pipekit.core import yamlload
from pipekit.core.errors import BadInput

Path = tuple[Any, ...]
MERGE = "tag:yaml.org,2002:merge"
_BOOLS = {
    "true": True,
    "yes": True,
    "on": True,
    "y": True,
    "false": False,
    "no": False,
    "off": False,
    "n": False,
}


@dataclass
class Document:
    data: Any
    name: str
    lines: dict[Path, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor with a known line."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def where(self, path: Path) -> str:
        line = self.line(path)
        return f"{self.name}:{line}" if line else self.name

    def error(self, path: Path, message: str, hint: str | None = None) -> BadInput:
        shown = " > ".join(str(p) for p in path)
        return BadInput(f"{self.where(path)}: {message}" + (f" (at {shown})" if shown else ""), hint=hint)


def load(text: str, name: str) -> Document:
    root = yamlload.compose(text, name, hint="Bitbucket would refuse this file too")
    doc = Document(data=None, name=name)
    if root is not None:
        doc.data = _build(root, (), doc)
    return doc


def _build(node: yaml.Node, path: Path, doc: Document) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in _pairs(node, doc):
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, (dict, list)):
                raise BadInput(
                    f"{doc.name}:{key_node.start_mark.line + 1}: a mapping key must be a plain value"
                )
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                doc.warnings.append(
                    f"{doc.name}:{key_node.start_mark.line + 1}: {key!r} appears twice in one "
                    "mapping; the last one counts"
                )
            doc.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


def _pairs(node: yaml.MappingNode, doc: Document) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """The mapping's own pairs after the ones ``<<:`` merges in (own keys win, as YAML says)."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == MERGE:
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise BadInput(f"{doc.name}:{source.start_mark.line + 1}: '<<' merges only mappings")
                merged.extend(_pairs(source, doc))
        else:
            own.append((key_node, value_node))
    own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    seen: set[str] = set()
    for key_node, value_node in merged:
        if isinstance(key_node, yaml.ScalarNode) and (key_node.value in own_keys or key_node.value in seen):
            continue
        seen.add(getattr(key_node, "value", ""))
        yield key_node, value_node
    yield from own


def _scalar(node: yaml.Node) -> Any:
    value = node.value
    tag = node.tag
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return _BOOLS.get(str(value).lower(), value)
    if tag.endswith(":int"):
        try:
            return int(str(value).replace("_", ""), 0)
        except ValueError:
            return value
    if tag.endswith(":float"):
        try:
            return float(str(value).replace("_", ""))
        except ValueError:
            return value
    return value
