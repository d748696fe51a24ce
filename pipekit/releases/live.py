"""Argo CD's live state beside the desired (GitOps) state of each status cell.

One ``GET /api/v1/applications`` lists every application; the app of a cell is named by a
template (``{service}-{env}``, as init names them). A cell is marked

- ``behind`` when the app's synced GitOps revision is older than the commit that set the cell's
  image (Argo CD has not synced it yet, or cannot);
- ``drift`` when the app is OutOfSync at its revision, or runs another image of the service than
  the GitOps state says (someone changed the cluster by hand);
- ``unhealthy`` when its health is not Healthy; ``no-app`` when there is no such app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipekit.releases.matrix import mark
from pipekit.releases.model import BEHIND, DRIFT, NO_APP, UNHEALTHY, Cell, Live, StatusReport

Ancestry = Callable[[str, str], "bool | None"]  # (ancestor, descendant) -> is it one; None: cannot tell
_SHA = re.compile(r"[0-9a-f]{7,64}")


def app_name(template: str, service: str, env: str) -> str:
    return template.replace("{service}", service).replace("{env}", env)


def live_of(name: str, app: Mapping[str, Any]) -> Live:
    status = _obj(app.get("status"))
    sync, health = _obj(status.get("sync")), _obj(status.get("health"))
    images = _obj(status.get("summary")).get("images")
    return Live(
        app=name,
        sync=str(sync.get("status") or ""),
        health=str(health.get("status") or ""),
        revision=str(sync.get("revision") or ""),
        images=[str(i) for i in images] if isinstance(images, list) else [],
    )


def apply(report: StatusReport, apps: Iterable[Mapping[str, Any]], template: str, ancestry: Ancestry) -> None:
    by_name = {str(_obj(a.get("metadata")).get("name") or ""): a for a in apps}
    for row in report.cells.values():
        for cell in row.values():
            name = app_name(template, cell.service, cell.environment)
            app = by_name.get(name)
            if app is None:
                mark(cell, NO_APP, f"no Argo CD application {name!r}")
                continue
            cell.live = live_of(name, app)
            judge(cell, cell.live, ancestry)


def judge(cell: Cell, live: Live, ancestry: Ancestry) -> None:
    behind = None
    if live.revision and cell.gitops_commit and _SHA.fullmatch(live.revision):
        behind = ancestry(cell.gitops_commit, live.revision) is False
    image = image_drift(cell, live.images)
    if behind:
        live.drift = (
            f"Argo CD is at {live.revision[:12]}, older than "
            f"{cell.gitops_commit[:12] if cell.gitops_commit else '?'} that set {cell.version}"
        )
        mark(cell, BEHIND, live.drift)
    elif image:
        live.drift = image
        mark(cell, DRIFT, image)
    elif live.sync and live.sync != "Synced":
        live.drift = f"{live.sync} at {live.revision[:12] or 'an unknown revision'}"
        mark(cell, DRIFT, live.drift)
    if live.health and live.health != "Healthy":
        mark(cell, UNHEALTHY, f"health {live.health}")


def image_drift(cell: Cell, images: list[str]) -> str | None:
    """Why the live images of the service's repository are not the desired one (None: they are,
    or Argo CD lists none of that repository, so images cannot tell)."""
    name = _name(cell.image)
    if not name:
        return None
    same = [i for i in images if _name(i) == name]
    if not same:
        return None
    for image in same:
        if (cell.digest and cell.digest in image) or (
            not cell.digest and cell.tag and image.split("@", 1)[0].endswith(f":{cell.tag}")
        ):
            return None
    return f"Argo CD runs {', '.join(_short(i) for i in same)}; GitOps says {cell.version}"


def _name(reference: str) -> str:
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return ref[: len(ref) - len(last)] + last.split(":", 1)[0]


def _short(reference: str) -> str:
    ref, _, digest = reference.partition("@")
    tag = ref.rsplit("/", 1)[-1].partition(":")[2]
    return tag or (digest.split(":", 1)[-1][:12] if digest else reference)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class FirstParent:
    """Ancestry on the GitOps branch by position in its first-parent walk (one ``git rev-list``,
    read on first use); commits off that line are asked of git one by one."""

    def __init__(self, git: Any, rev: str) -> None:
        self.git, self.rev = git, rev
        self._pos: dict[str, int] | None = None

    def __call__(self, ancestor: str, descendant: str) -> bool | None:
        if self._pos is None:
            out = self.git.run("rev-list", "--first-parent", self.rev, "--").stdout
            self._pos = {sha: i for i, sha in enumerate(out.split())}
        a, d = self._pos.get(ancestor), self._pos.get(descendant)
        if a is not None and d is not None:
            return a >= d
        result: bool | None = self.git.is_ancestor(ancestor, descendant)
        return result
