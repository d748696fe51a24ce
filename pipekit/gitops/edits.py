"""Edits of a checked-out GitOps tree, re-runnable on a fresh tree after a rejected push.

The winner rule for one image entry (documented in docs/update_tag.md): the later pipeline
build wins. Each write marks the value's line with ``# pipekit:build=N``; an update from an
older build than the one already written is skipped as *superseded* (reported, exit 0,
nothing committed). Without a build number on either side the last writer wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.clients.git import Git
from pipekit.core.errors import BadInput
from pipekit.gitops import overlay as ov
from pipekit.gitops.refs import ImageRef
from pipekit.gitops.writer import Change


def warm() -> None:
    """Import the YAML editing modules (the writer calls this while the clone runs)."""
    from pipekit.gitops import helm_values, kustomization  # noqa: F401


def _read(path: Path, rel: str) -> tuple[str, str]:
    """The file's text with ``\\n`` line ends, and the line end it uses (``\\r\\n`` for a CRLF file)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise BadInput(
            f"{rel}: not found in the GitOps repository", hint="check --path / --values-file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{rel}: cannot read: {exc}") from None
    crlf = raw.count("\r\n")
    if crlf and crlf * 2 >= raw.count("\n"):  # mostly CRLF: edit as LF, write CRLF back
        return raw.replace("\r\n", "\n"), "\r\n"
    return raw, "\n"


def _write(path: Path, text: str, newline: str = "\n") -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text.replace("\n", newline) if newline != "\n" else text)


@dataclass
class ImageEdit:
    """Set one image entry (or Helm values key) in one overlay."""

    overlay: str
    want: ImageRef
    create: bool = False
    values_file: str | None = None
    key: str | None = None
    message: Callable[[ImageRef | None], str] = lambda _old: "Update image"
    old: ImageRef | None = None
    note: str = ""
    force: bool = False  # write even over a newer build's value (a deliberate rollback)

    def apply(self, root: Path) -> Change:
        """Edit the file in ``root``; a Change with no paths when nothing needs changing."""
        from pipekit.gitops import kustomization

        if self.values_file and self.key:
            return self._values(root)
        found = ov.kustomization_file(root / self.overlay)
        if found is None:
            raise BadInput(
                f"{self.overlay}: no kustomization.yaml in the GitOps repository",
                hint="check --path / the gitops.overlay template",
            )
        found, rel = ov.inside(root, f"{self.overlay}/{found.name}")
        text, newline = _read(found, rel)
        self.old = kustomization.find(text, rel, self.want.name)
        if self._superseded(self.old.build if self.old else None):
            return Change([], "", note=self.note)
        new, self.old = kustomization.set_image(text, rel, self.want, create=self.create)
        new = kustomization.drop_placeholder(new, rel)  # a real image now: the overlay's pods may run
        if new == text:
            self.note = f"already at {self.want.version}"
            return Change([], "", note=self.note)
        kustomization.check(new, rel)
        after = kustomization.find(new, rel, self.want.name)
        assert after is not None
        _write(found, new, newline)
        self.note = ""
        return Change([rel], self.message(self.old), render=[(self.overlay, after.reference)])

    def _values(self, root: Path) -> Change:
        from pipekit.gitops import helm_values

        assert self.values_file and self.key and self.want.new_tag is not None
        path, rel = ov.inside(root, ov.clean(f"{self.overlay}/{self.values_file}", "values file"))
        text, newline = _read(path, rel)
        value, build = helm_values.read(text, rel, self.key)
        self.old = ImageRef(self.want.name, new_tag=value, build=build) if value is not None else None
        if self._superseded(build):
            return Change([], "", note=self.note)
        new = helm_values.set_value(
            text, rel, self.key, self.want.new_tag, build=self.want.build, create=self.create
        )
        if new == text:
            self.note = f"already at {self.want.version}"
            return Change([], "", note=self.note)
        _write(path, new, newline)
        self.note = ""
        return Change([rel], self.message(self.old))

    def _superseded(self, current: int | None) -> bool:
        mine = self.want.build
        if not self.force and current is not None and mine is not None and current > mine:
            self.note = f"superseded: build {current} already wrote this entry, and build {mine} is older"
            return True
        return False

    def __call__(self, root: Path, git: Git) -> Change:
        return self.apply(root)

    def warm(self) -> None:
        warm()

    def render_dirs(self) -> list[str]:
        """The overlay this edit will have rendered (the writer starts the renderer early)."""
        return [] if self.values_file else [self.overlay]


@dataclass
class BatchEdit:
    """Several image edits in one commit (a promotion batch)."""

    edits: Sequence[ImageEdit]
    message: Callable[[Sequence[ImageEdit]], str]
    applied: list[ImageEdit] = field(default_factory=list)

    def __call__(self, root: Path, git: Git) -> Change:
        paths: list[str] = []
        render: list[tuple[str, str]] = []
        self.applied = []
        for edit in self.edits:
            change = edit.apply(root)
            if change.paths:
                self.applied.append(edit)
                paths += [p for p in change.paths if p not in paths]
                render += change.render
        if not paths:
            return Change([], "", note="; ".join(sorted({e.note for e in self.edits if e.note})))
        return Change(paths, self.message(self.applied), render=render)

    def warm(self) -> None:
        warm()
