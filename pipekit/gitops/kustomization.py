"""The ``images:`` list of a ``kustomization.yaml``: find, edit or create one entry, surgically.

An entry looks like ``- name: app`` with ``newName``, ``newTag`` and ``digest``. Edits go
through :mod:`pipekit.gitops.yamledit`, so the rest of the file is left byte for byte.
"""

from __future__ import annotations

import yaml

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.gitops import yamledit as ye
from pipekit.gitops.refs import DIGEST_RE, TAG_RE, ImageRef, check_digest, check_tag

__all__ = [
    "ImageRef",
    "check_digest",
    "check_tag",
    "find",
    "entries",
    "set_image",
    "check",
    "drop_placeholder",
]

IMAGE_KEYS = ("name", "newName", "newTag", "digest", "tagSuffix")
PLACEHOLDER = "# pipekit:placeholder"  # marks the `replicas:` block that holds an overlay at no pods
PLACEHOLDER_TAG = (
    "pending"  # init's overlay tag before the first build reaches the environment (names no image)
)


def _root(text: str, path: str) -> yaml.MappingNode:
    root = ye.compose(text, path)
    if not isinstance(root, yaml.MappingNode):
        raise BadInput(f"{path}:1: a kustomization must be a mapping")
    return root


def _images(root: yaml.MappingNode, path: str) -> yaml.SequenceNode | None:
    pair = ye.get(root, "images")
    if pair is None or (isinstance(pair[1], yaml.ScalarNode) and pair[1].tag == "tag:yaml.org,2002:null"):
        return None
    if not isinstance(pair[1], yaml.SequenceNode):
        raise BadInput(f"{path}:{pair[1].start_mark.line + 1}: images must be a list")
    first: dict[str, int] = {}
    for item in pair[
        1
    ].value:  # kustomize applies the last entry of a name: an edit of the first would not count
        name = ye.get(item, "name") if isinstance(item, yaml.MappingNode) else None
        if name is not None and isinstance(name[1], yaml.ScalarNode):
            line = item.start_mark.line + 1
            if name[1].value in first:
                raise BadInput(
                    f"{path}:{line}: duplicate images entry {name[1].value!r} (first at line "
                    f"{first[name[1].value]}): kustomize would use the last one",
                    hint="keep one entry per image name in the GitOps repository; nothing was committed",
                )
            first[name[1].value] = line
    return pair[1]


def _entry(images: yaml.SequenceNode | None, name: str) -> yaml.MappingNode | None:
    for item in images.value if images else []:
        if isinstance(item, yaml.MappingNode):
            pair = ye.get(item, "name")
            if pair and isinstance(pair[1], yaml.ScalarNode) and pair[1].value == name:
                return item
    return None


def _ref(text: str, item: yaml.MappingNode) -> ImageRef:
    def val(key: str) -> str | None:
        pair = ye.get(item, key)
        return pair[1].value if pair and isinstance(pair[1], yaml.ScalarNode) and pair[1].value else None

    first, last = ye.node_lines(text, item)
    return ImageRef(
        name=val("name") or "",
        new_name=val("newName"),
        new_tag=val("newTag"),
        digest=val("digest"),
        build=ye.read_marker(text, first, last),
    )


def find(text: str, path: str, name: str) -> ImageRef | None:
    """The entry for image ``name``, or None."""
    item = _entry(_images(_root(text, path), path), name)
    return _ref(text, item) if item is not None else None


def entries(text: str, path: str) -> list[ImageRef]:
    images = _images(_root(text, path), path)
    return [
        _ref(text, item) for item in (images.value if images else []) if isinstance(item, yaml.MappingNode)
    ]


def set_image(text: str, path: str, want: ImageRef, *, create: bool = False) -> tuple[str, ImageRef | None]:
    """Write ``want``'s newName/newTag/digest into the entry named ``want.name``.

    Returns the new text and the entry as it was (None when created). A tag-only update
    removes a stale ``digest`` (it would pin the old image) and a digest-only update removes
    a stale ``newTag``. The text is returned unchanged when the entry already has the values.
    """
    root = _root(text, path)
    item = _entry(_images(root, path), want.name)
    if item is None:
        if not create:
            raise CheckFailed(
                f"{path}: no images entry with name {want.name!r}",
                hint="pass --create to add one, or check --image",
            )
        return _create(text, path, root, want), None
    old = _ref(text, item)
    new = text
    plan = [
        ("newName", want.new_name, "name"),
        ("newTag", want.new_tag, "newName"),
        ("digest", want.digest, "newTag"),
    ]
    for key, value, after in plan:
        if value is None:
            continue
        item = _entry(_images(_root(new, path), path), want.name)
        assert item is not None
        pair = ye.get(item, key)
        if pair is None:
            anchor = after if ye.get(item, after) else ("name" if ye.get(item, "name") else None)
            new = ye.insert_key(new, item, key, value, after=anchor)
        elif pair[1].value != value or not ye.is_string(pair[1]):
            new = ye.replace_scalar(new, pair[1], value)
    stale = "digest" if want.new_tag is not None and want.digest is None else None
    if want.digest is not None and want.new_tag is None:
        stale = "newTag"
    if stale:
        item = _entry(_images(_root(new, path), path), want.name)
        assert item is not None
        new = ye.delete_key(new, item, stale, path)
    if new == text:
        return text, old
    return _mark(new, path, want), old


def drop_placeholder(text: str, path: str) -> str:
    """Without the ``replicas:`` block ``pipekit init`` writes to keep an environment at no pods until its
    first image (its key line marked ``# pipekit:placeholder``); ``text`` as it is when there is none."""
    root = _root(text, path)
    pair = ye.get(root, "replicas")
    if pair is None or PLACEHOLDER not in text.splitlines()[pair[0].start_mark.line]:
        return text
    return ye.delete_key(text, root, "replicas", path)


def _mark(text: str, path: str, want: ImageRef) -> str:
    item = _entry(_images(_root(text, path), path), want.name)
    assert item is not None
    pair = ye.get(item, "newTag") or ye.get(item, "digest") or ye.get(item, "name")
    assert pair is not None
    line = (
        pair[1].end_mark.line
        if pair[1].end_mark.index > pair[1].start_mark.index
        else pair[0].start_mark.line
    )
    return ye.set_marker(text, line, want.build, ye.node_lines(text, item))


def _create(text: str, path: str, root: yaml.MappingNode, want: ImageRef) -> str:
    lines = [f"name: {ye.scalar_text(want.name)}"]
    for key, value in (("newName", want.new_name), ("newTag", want.new_tag), ("digest", want.digest)):
        if value is not None:
            lines.append(f"{key}: {ye.scalar_text(value)}")
    images = _images(root, path)
    if images is not None and images.value and not images.flow_style:
        new = ye.append_item(text, images, lines)
    elif images is None and ye.get(root, "images") is None and not root.flow_style:
        new = text if not text or text.endswith("\n") else text + "\n"
        new += "images:\n- " + lines[0] + "\n" + "".join("  " + line + "\n" for line in lines[1:])
    else:
        raise BadInput(
            f"{path}: cannot add an entry to this images list (empty or flow style); edit it by hand once"
        )
    return _mark(new, path, want)


def check(text: str, path: str) -> None:
    """Structural rules of the kustomization schema for ``images``, checked before any commit."""
    root = _root(text, path)
    images = _images(root, path)
    for i, item in enumerate(images.value if images else []):
        where = f"{path}:{item.start_mark.line + 1}: images[{i}]"
        if not isinstance(item, yaml.MappingNode):
            raise BadInput(f"{where} must be a mapping")
        for key_node, value_node in item.value:
            key = key_node.value
            if key not in IMAGE_KEYS:
                raise BadInput(f"{where}: unknown key {key!r} (allowed: {', '.join(IMAGE_KEYS)})")
            if not ye.is_string(value_node):
                raise BadInput(
                    f"{path}:{value_node.start_mark.line + 1}: images[{i}].{key} must be a string, "
                    f"got {value_node.value!r}",
                    hint="quote it",
                )
        if ye.get(item, "name") is None:
            raise BadInput(f"{where}: 'name' is required")
        digest = ye.get(item, "digest")
        if digest and not DIGEST_RE.fullmatch(digest[1].value):
            raise BadInput(
                f"{path}:{digest[1].start_mark.line + 1}: images[{i}].digest {digest[1].value!r} "
                "is not sha256:<64 hex>"
            )
        tag = ye.get(item, "newTag")
        if tag and not TAG_RE.fullmatch(tag[1].value):
            raise BadInput(
                f"{path}:{tag[1].start_mark.line + 1}: images[{i}].newTag {tag[1].value!r} is not a valid tag"
            )
