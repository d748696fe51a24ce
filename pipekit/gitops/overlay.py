"""GitOps repository layout: overlay path templates and what an overlay needs to render.

Templates use ``{env}`` and ``{service}``: ``overlays/{env}`` (one service per repo) or
``{service}/overlays/{env}`` (many services in one repo, the usual monorepo layout).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from pipekit.core.errors import BadInput

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
DEFAULT_TEMPLATE = "{service}/overlays/{env}"
_FIELDS = {"env", "service"}


def _check_template(template: str) -> None:
    fields = set(re.findall(r"{(\w*)}", template))
    if fields - _FIELDS or "{env}" not in template:
        raise BadInput(f"overlay path template {template!r} must use {{env}} and may use {{service}} only")


def overlay_path(template: str, env: str, service: str | None) -> str:
    """``template`` filled in, as a clean relative POSIX path inside the repository."""
    _check_template(template)
    if "{service}" in template and not service:
        raise BadInput(
            f"overlay path template {template!r} needs a service name (--service or config 'service')"
        )
    path = template.replace("{env}", env).replace("{service}", service or "")
    return clean(path, "overlay path")


def clean(path: str, what: str) -> str:
    norm = posixpath.normpath(path.strip().strip("/"))
    if norm in (".", "") or norm.startswith("..") or posixpath.isabs(path):
        raise BadInput(f"{what} {path!r} must be a directory inside the GitOps repository")
    return norm


def inside(root: Path, rel: str) -> tuple[Path, str]:
    """``rel`` in the clone at ``root``, symlinks resolved: (path, repository-relative path).

    A symlink (the file, or any directory on the way) that leads out of the clone is refused:
    following it would read or write a file outside the GitOps working tree. A link inside
    the clone is followed, and the file it leads to is the one edited and committed.
    """
    base = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(base) or target == base:
        raise BadInput(
            f"{rel}: a symlink in the GitOps repository leads out of the clone; refusing to follow it",
            hint="replace the link with the file itself; nothing was committed",
        )
    return target, target.relative_to(base).as_posix()


def services_in(template: str, env: str, files: list[str]) -> list[str]:
    """Services whose overlay for ``env`` exists in the list of repository ``files``."""
    _check_template(template)
    pattern = re.escape(template.replace("{env}", env)).replace(re.escape("{service}"), "([^/]+)")
    names = "|".join(re.escape(n) for n in KUSTOMIZATION_FILES)
    rx = re.compile(f"{pattern}/(?:{names})")
    return sorted({m.group(1) for f in files if (m := rx.fullmatch(f))})


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def referenced_dirs(text: str, name: str, rel_dir: str) -> list[str]:
    """Repository-relative directories outside ``rel_dir`` that the kustomization refers to."""
    import yaml

    from pipekit.gitops import yamledit as ye

    root = ye.compose(text, name)
    found: list[str] = []
    if not isinstance(root, yaml.MappingNode):
        return found

    def add(entry: str) -> None:
        if not entry or "://" in entry or entry.startswith(("github.com/", "git@")):
            return
        target = posixpath.normpath(posixpath.join(rel_dir, entry))
        if target.startswith(".."):
            raise BadInput(f"{name}: {entry!r} points outside the GitOps repository")
        if posixpath.splitext(target)[1] in (".yaml", ".yml", ".json", ".env", ".properties"):
            target = posixpath.dirname(target) or "."
        inside = target == rel_dir or target.startswith(rel_dir + "/")
        if not inside and target != "." and target not in found:
            found.append(target)

    for key_node, value in root.value:
        key = key_node.value
        if key in (
            "resources",
            "bases",
            "components",
            "patchesStrategicMerge",
            "crds",
            "configurations",
        ) and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                if isinstance(item, yaml.ScalarNode):
                    add(item.value)
        elif key in ("patches", "patchesJson6902", "configMapGenerator", "secretGenerator") and isinstance(
            value, yaml.SequenceNode
        ):
            for item in value.value:
                if not isinstance(item, yaml.MappingNode):
                    continue
                for sub_key, sub_value in item.value:
                    if sub_key.value == "path" and isinstance(sub_value, yaml.ScalarNode):
                        add(sub_value.value)
                    elif sub_key.value in ("files", "envs") and isinstance(sub_value, yaml.SequenceNode):
                        for f in sub_value.value:
                            if isinstance(f, yaml.ScalarNode):
                                add(f.value.split("=", 1)[-1])
    return found
