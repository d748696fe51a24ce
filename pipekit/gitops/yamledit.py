"""Surgical YAML edits: change a scalar's own text span, insert or delete one key line.

A load-and-dump round trip re-indents hand-kept files and moves comments. Here the file is
parsed only to learn *where* things are (``yaml.compose`` gives every node its start and end
mark); the edit then replaces exactly those characters, so comments, key order, quoting,
indentation and blank lines stay as they were and a diff touches only the changed lines.
"""

from __future__ import annotations

import json
import re

import yaml

from pipekit.core import yamlload
from pipekit.core.errors import BadInput

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: same marks (character offsets), 15x faster
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
# A plain scalar is safe when YAML reads it back as the same string; anything else is quoted.
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./@+=-][A-Za-z0-9_./@:+=-]*")
# What YAML 1.1 *or* 1.2 parsers (PyYAML, go-yaml v2/v3 in kustomize) may read as non-strings.
_TYPED = re.compile(
    r"[-+]?(\.\d+|\d[\d_]*(\.[\d_]*)?)([eE][-+]?\d+)?"
    r"|[-+]?0([xX][0-9a-fA-F_]+|[oO][0-7_]+|[bB][01_]+)"  # a radix prefix only with digits of that radix
    r"|[-+]?\.(inf|Inf|INF)"
    r"|\.(nan|NaN|NAN)|[\d_:]+|(?i:y|n|yes|no|on|off|true|false|null|~)|\d{4}-\d\d?-\d\d?.*"
)


def compose(text: str, name: str) -> yaml.Node | None:
    """Parse ``text`` into a node tree; malformed YAML is bad input naming ``name:line:column``."""
    return yamlload.compose(
        text, name, hint="fix the file in the GitOps repository; nothing was committed", unique_keys=True
    )


def get(mapping: yaml.MappingNode, key: str) -> tuple[yaml.ScalarNode, yaml.Node] | None:
    """The (key node, value node) pair of ``key`` in a mapping node."""
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def scalar_text(value: str, style: str | None = None) -> str:
    """``value`` as YAML source that reads back as that exact *string*.

    ``style`` is the existing scalar's quote style (``'``, ``"`` or None): an existing quote
    style is kept; a plain value that YAML would read as a number, boolean, null or date is
    double-quoted (an all-digit short SHA stays a string).
    """
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value, ensure_ascii=False)
    if _PLAIN_SAFE.fullmatch(value) and not _TYPED.fullmatch(value) and _reads_as_str(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _reads_as_str(value: str) -> bool:
    node = yaml.compose(f"k: {value}\n", Loader=_LOADER)
    assert isinstance(node, yaml.MappingNode)
    scalar = node.value[0][1]
    return isinstance(scalar, yaml.ScalarNode) and scalar.tag == _STR_TAG and scalar.value == value


def is_string(node: yaml.Node) -> bool:
    """True when a scalar node resolves to a YAML string (quoted, or plain but not number/bool/null)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR_TAG


def replace_scalar(text: str, node: yaml.Node, value: str) -> str:
    """Replace the scalar ``node``'s own span with ``value`` (keeping its quote style)."""
    if not isinstance(node, yaml.ScalarNode):
        raise BadInput(
            f"line {node.start_mark.line + 1}: expected a plain value, found a {type(node).__name__}"
        )
    start, end = node.start_mark.index, node.end_mark.index
    style = node.style if node.style in ("'", '"') else None
    new = scalar_text(value, style)
    if start == end:  # an empty value (`newTag:`): write after the colon with one space
        return text[:start] + " " + new + text[end:]
    return text[:start] + new + text[end:]


def last_end(node: yaml.Node) -> int:
    """Index just after the last character of ``node``'s content (not the following comments)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return last_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return last_end(node.value[-1])
    return int(node.end_mark.index)


def _line_end(text: str, index: int) -> int:
    """Index just after the newline of the line holding ``index`` (end of text if none)."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def insert_key(text: str, mapping: yaml.MappingNode, key: str, value: str, after: str | None = None) -> str:
    """Insert ``key: value`` into ``mapping`` after the key ``after`` (default: the last key).

    Block mappings get a new line with the siblings' indentation; flow mappings ``{...}`` get
    ``, key: value`` before the closing brace.
    """
    if not mapping.value:
        raise BadInput(f"line {mapping.start_mark.line + 1}: cannot add {key!r} to an empty mapping")
    pair = get(mapping, after) if after else None
    anchor_key, anchor_value = pair if pair else mapping.value[-1]
    rendered = f"{key}: {scalar_text(value)}"
    if mapping.flow_style:
        at = last_end(anchor_value)
        return text[:at] + ", " + rendered + text[at:]
    indent = " " * anchor_key.start_mark.column
    at = last_end(anchor_value)
    if at > 0 and text[at - 1] == "\n":
        line_start = at
    else:
        line_start = _line_end(text, at)
    prefix = "" if line_start == 0 or text[line_start - 1] == "\n" else "\n"
    return text[:line_start] + prefix + indent + rendered + "\n" + text[line_start:]


def delete_key(text: str, mapping: yaml.MappingNode, key: str, name: str) -> str:
    """Delete the line(s) of ``key`` from a block mapping (the key must not share its line)."""
    pair = get(mapping, key)
    if pair is None:
        return text
    key_node, value_node = pair
    start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    before_key = text[start : key_node.start_mark.index]
    if mapping.flow_style or before_key.strip():
        raise BadInput(
            f"{name}:{key_node.start_mark.line + 1}: cannot remove {key!r} from this entry "
            "(it shares its line with another key); put each key on its own line"
        )
    end = _line_end(text, max(last_end(value_node) - 1, 0))
    return text[:start] + text[end:]


def append_item(text: str, sequence: yaml.SequenceNode, lines: list[str]) -> str:
    """Append a block mapping item (``lines`` = ``["name: x", "newTag: y"]``) to a block sequence."""
    if sequence.flow_style or not sequence.value:
        raise BadInput(f"line {sequence.start_mark.line + 1}: cannot append to a flow-style or empty list")
    dash_col = sequence.start_mark.column
    first = sequence.value[0]
    content_col = first.start_mark.column
    item = " " * dash_col + "- " + lines[0] + "\n"
    item += "".join(" " * max(content_col, dash_col + 2) + line + "\n" for line in lines[1:])
    at = _line_end(text, last_end(sequence.value[-1]) - 1)
    prefix = "" if at == 0 or text[at - 1] == "\n" else "\n"
    return text[:at] + prefix + item + text[at:]


def node_lines(text: str, node: yaml.Node) -> tuple[int, int]:
    """First and last (0-based) line numbers of ``node``'s content."""
    end = last_end(node)
    return node.start_mark.line, text.count("\n", 0, max(end - 1, 0))


# -- the build marker: which pipeline run wrote a value --------------------------------
# ``newTag: "1a2b3c4"  # pipekit:build=57`` lets a later writer see that build 57 wrote the
# value and refuse to replace it with an older build's image (see docs/update_tag.md).
MARKER = re.compile(r"[ \t]*# pipekit:build=(\d+)")


def read_marker(text: str, first_line: int, last_line: int) -> int | None:
    lines = text.splitlines()[first_line : last_line + 1]
    for line in lines:
        found = MARKER.search(line)
        if found:
            return int(found.group(1))
    return None


def set_marker(text: str, line_no: int, build: int | None, clear: tuple[int, int]) -> str:
    """Remove markers from lines ``clear`` (inclusive range) and put ``build``'s on ``line_no``."""
    lines = text.splitlines(keepends=True)
    for i in range(clear[0], min(clear[1], len(lines) - 1) + 1):
        if MARKER.search(lines[i]):
            body = lines[i].rstrip("\r\n")
            lines[i] = MARKER.sub("", body) + lines[i][len(body) :]
    if build is not None and line_no < len(lines):
        body = lines[line_no].rstrip("\r\n")
        lines[line_no] = f"{body}  # pipekit:build={build}" + lines[line_no][len(body) :]
    return "".join(lines)
