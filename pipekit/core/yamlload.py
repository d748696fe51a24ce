"""The one way pipekit reads YAML: safe loader, bounded alias expansion, bad input that names the file.

Aliases share nodes, so composing a "billion laughs" document is cheap; it is walking it (our
own tree builders, constructing, validating, dumping) that expands it exponentially. Every
document is composed first and its *expanded* size counted over the node graph (each node
once, memoised, so the count itself is linear); a document whose aliases would expand it by
more than :data:`ALIAS_BUDGET` nodes, or that refers to itself, is refused before anything
walks it. A document without aliases is never refused, whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from pipekit.core.errors import BadInput

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
ALIAS_BUDGET = 10_000  # nodes that aliases may add on top of the document's own nodes


@contextmanager
def _reading(text: str, name: str, hint: str | None) -> Iterator[yaml.SafeLoader]:
    """A loader over ``text``; malformed YAML and a too-deep document become :class:`BadInput`."""
    loader = LOADER(text)
    try:
        yield loader
    except yaml.YAMLError as exc:
        raise _malformed(exc, name, hint) from None
    except RecursionError:  # the pure-Python composer on a deeply nested document
        raise BadInput(f"{name}: YAML nested too deeply", hint=hint) from None
    finally:
        loader.dispose()


def compose(text: str, name: str, *, hint: str | None = None, unique_keys: bool = False) -> yaml.Node | None:
    """The node tree of a single-document ``text``; malformed or alias-bombed YAML is :class:`BadInput`.

    With ``unique_keys`` a key repeated in any mapping is bad input too: YAML parsers disagree
    on which copy wins (PyYAML and kustomize take the last), so an edit of the first is a lie.
    """
    with _reading(text, name, hint) as loader:
        node = _guard(loader.get_single_node(), name, hint, text)
        if unique_keys and node is not None:
            _unique_keys(node, name, hint)
    return node


def load(text: str, name: str, *, hint: str | None = None) -> Any:
    """``yaml.safe_load`` with the same guard."""
    with _reading(text, name, hint) as loader:
        node = _guard(loader.get_single_node(), name, hint, text)
        return None if node is None else loader.construct_document(node)


def load_all(text: str, name: str, *, hint: str | None = None) -> Iterator[Any]:
    """``yaml.safe_load_all`` with the same guard (each document checked before it is built)."""
    with _reading(text, name, hint) as loader:
        while loader.check_node():
            node = _guard(loader.get_node(), name, hint, text)
            if node is not None:
                yield loader.construct_document(node)


def _malformed(exc: yaml.YAMLError, name: str, hint: str | None) -> BadInput:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        return BadInput(f"{where}: malformed YAML: {exc.problem or exc.context}", hint=hint)
    return BadInput(f"{name}: malformed YAML: {exc}", hint=hint)


def _guard(root: yaml.Node | None, name: str, hint: str | None, text: str) -> yaml.Node | None:
    if root is None or "*" not in text:  # no alias without a '*': nothing to expand
        return root
    sizes: dict[int, int] = {}  # id(node) -> expanded size
    distinct = 0
    # An iterative post-order walk: deep documents must not exhaust Python's stack either.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] - distinct > ALIAS_BUDGET:
                break
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1
            raise BadInput(f"{name}:{line}: YAML alias refers to itself (a recursive document)", hint=hint)
        open_nodes.add(key)
        distinct += 1
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, False))
    expanded = max(sizes.values(), default=0)
    if expanded - distinct > ALIAS_BUDGET:
        raise BadInput(
            f"{name}: YAML aliases expand this document past {ALIAS_BUDGET} extra nodes "
            "(an alias bomb?): refusing to expand it",
            hint=hint or "write the values out without anchors",
        )
    return root


def _unique_keys(root: yaml.Node, name: str, hint: str | None) -> None:
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, _value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    if key_node.value in first:
                        raise BadInput(
                            f"{name}:{line}: duplicate key {key_node.value!r} (first at line "
                            f"{first[key_node.value]}): tools disagree on which one counts",
                            hint=hint or "keep one of them",
                        )
                    first[key_node.value] = line
        todo.extend(_children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
