"""Artifacts as Bitbucket hands them on: only the declared files, kept after the step,
restored into later clones.

Atlassian's "Pipeline artifacts" page: the glob patterns are relative to ``BITBUCKET_CLONE_DIR``;
files kept by a step are downloaded at the start of every later step (``download: false`` skips
them, a list of names takes only those named artifacts); artifacts of parallel steps are not
promised to the other steps of the same group, and all of them reach the steps after it. Named
artifacts (``upload:``) follow ``capture-on``; ``scoped`` and ``test-reports`` ones stay with
their step. Where two steps keep the same path, the later one in the file wins (Bitbucket leaves
it undefined for a parallel group).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.pipelines import globs
from pipekit.pipelines.model import Artifacts

SHARED = "_shared"


@dataclass
class Kept:
    """What one step kept: files by artifact (``_shared`` for the unnamed paths) and their types."""

    files: dict[str, list[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def all_files(self) -> list[str]:
        return sorted({f for files in self.files.values() for f in files})


def match(patterns: tuple[str, ...], clone: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    found = []
    for rel in globs.walk(clone):
        if any(_covers(p, rel) for p in patterns) and not any(_covers(p, rel) for p in ignore):
            found.append(rel)
    return sorted(found)


def _covers(pattern: str, rel: str) -> bool:
    """The pattern names the file, or a folder the file is in."""
    pattern = pattern.rstrip("/")
    if globs.matches(pattern, rel):
        return True
    parts = rel.split("/")
    return any(globs.matches(pattern, "/".join(parts[:i])) for i in range(1, len(parts)))


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, step_key: str, name: str) -> Path:
        return self.root / step_key / name

    def collect(self, step_key: str, spec: Artifacts, clone: Path, succeeded: bool) -> Kept:
        kept = Kept()
        shutil.rmtree(self.root / step_key, ignore_errors=True)  # a rerun of the step replaces what it kept
        if succeeded and spec.paths:
            kept.files[SHARED] = self._copy(match(spec.paths, clone), clone, self._dir(step_key, SHARED))
            kept.types[SHARED] = "shared"
        for up in spec.uploads:
            wanted = up.capture_on == "always" or (up.capture_on == "success") == succeeded
            if wanted:
                kept.files[up.name] = self._copy(
                    match(up.paths, clone, up.ignore_paths), clone, self._dir(step_key, "named-" + up.name)
                )
                kept.types[up.name] = up.type
        if kept.files:
            (self.root / step_key).mkdir(parents=True, exist_ok=True)
            (self.root / step_key / "kept.json").write_text(
                json.dumps({"files": kept.files, "types": kept.types}), encoding="utf-8"
            )
        return kept

    def kept(self, step_key: str) -> Kept | None:
        manifest = self.root / step_key / "kept.json"
        if not manifest.is_file():
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return Kept(files=data["files"], types=data["types"])

    def restore(self, step_keys: list[str], download: bool | tuple[str, ...], clone: Path) -> list[str]:
        """Copy what the given earlier steps kept (oldest first) into ``clone``; the files restored."""
        if download is False:
            return []
        restored: set[str] = set()
        for key in step_keys:
            kept = self.kept(key)
            if kept is None:
                continue
            for name, files in kept.files.items():
                if kept.types.get(name) != "shared":
                    continue
                if isinstance(download, tuple) and name not in download:
                    continue
                folder = self._dir(key, SHARED if name == SHARED else "named-" + name)
                self._copy(files, folder, clone)
                restored.update(files)
        return sorted(restored)

    def names(self, step_keys: list[str]) -> set[str]:
        out: set[str] = set()
        for key in step_keys:
            kept = self.kept(key)
            if kept:
                out.update(n for n in kept.files if n != SHARED)
        return out

    @staticmethod
    def _copy(files: list[str], source: Path, target: Path) -> list[str]:
        for rel in files:
            src, dst = source / rel, target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_symlink() or dst.is_file():
                dst.unlink()
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
        return files
