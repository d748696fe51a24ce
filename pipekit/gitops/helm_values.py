"""A Helm values file: set one scalar at a dotted key path (``image.tag``), surgically."""

from __future__ import annotations

import yaml

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.gitops import yamledit as ye


def _walk(root: yaml.Node | None, path: str, keys: list[str]) -> tuple[yaml.MappingNode, yaml.Node | None]:
    """The mapping that holds the last key, and the value node there (None when missing)."""
    if not isinstance(root, yaml.MappingNode):
        raise BadInput(f"{path}:1: a values file must be a mapping")
    node: yaml.MappingNode = root
    for depth, key in enumerate(keys[:-1]):
        pair = ye.get(node, key)
        if pair is None:
            raise CheckFailed(f"{path}: key {'.'.join(keys[: depth + 1])!r} not found")
        if not isinstance(pair[1], yaml.MappingNode):
            raise BadInput(
                f"{path}:{pair[1].start_mark.line + 1}: {'.'.join(keys[: depth + 1])} is not a mapping"
            )
        node = pair[1]
    pair = ye.get(node, keys[-1])
    return node, pair[1] if pair else None


def read(text: str, path: str, key_path: str) -> tuple[str | None, int | None]:
    """The value at ``key_path`` and its build marker."""
    keys = key_path.split(".")
    _, value = _walk(ye.compose(text, path), path, keys)
    if value is None:
        return None, None
    if not isinstance(value, yaml.ScalarNode):
        raise BadInput(f"{path}:{value.start_mark.line + 1}: {key_path} is not a single value")
    line = value.start_mark.line
    return (value.value or None), ye.read_marker(text, line, line)


def set_value(
    text: str, path: str, key_path: str, value: str, *, build: int | None = None, create: bool = False
) -> str:
    """Write ``value`` (always as a YAML string) at ``key_path``; unchanged text when already there."""
    keys = key_path.split(".")
    if not all(keys):
        raise BadInput(f"--key {key_path!r} is not a dotted key path like image.tag")
    parent, node = _walk(ye.compose(text, path), path, keys)
    if node is None:
        if not create:
            raise CheckFailed(f"{path}: key {key_path!r} not found", hint="pass --create to add it")
        new = ye.insert_key(text, parent, keys[-1], value)
    elif not isinstance(node, yaml.ScalarNode):
        raise BadInput(f"{path}:{node.start_mark.line + 1}: {key_path} is not a single value")
    elif node.value == value and ye.is_string(node):
        return text
    else:
        new = ye.replace_scalar(text, node, value)
    _, node = _walk(ye.compose(new, path), path, keys)
    assert node is not None
    line = node.end_mark.line
    return ye.set_marker(new, line, build, (line, line))
