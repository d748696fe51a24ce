"""``.pipekit/init.yaml`` (the answers and the version that generated the files) and the baselines.

The baseline of every generated file, byte for byte as init generated it, is kept under
``.pipekit/init/service/`` and ``.pipekit/init/gitops/`` in the service repository: the
common ancestor of ``--upgrade``'s three-way merge. Keeping the bytes (instead of shipping
every past template version to regenerate them) makes the ancestor exact whatever changed
since (a template, the code that fills it, a YAML quoting rule), costs a few KB per service,
and lets a reviewer see in git what pipekit generated next to what the team has now.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.onboarding.answers import Answers

RECORD = Path(".pipekit/init.yaml")
BASELINES = Path(".pipekit/init")
HEADER = (
    "# Written by pipekit init: the answers and the pipekit version that generated this service's\n"
    "# files. Keep it (and .pipekit/init/, the generated baselines) in git: `pipekit init --upgrade`\n"
    "# reads both.\n"
)


@dataclass
class Recorded:
    answers: Answers
    pipekit_version: str
    template_version: int
    gitops_repo: str | None = None  # the --gitops-repo init last wrote to (None: a --gitops-dir checkout)
    # An upgrade that stopped on conflicts: the version it was to, and the files to resolve. The
    # baselines are already that version's; the next --upgrade records it once no marker is left.
    pending_version: str | None = None
    pending_conflicts: tuple[str, ...] = ()


def dump(recorded: Recorded) -> str:
    import yaml

    data: dict[str, Any] = {
        "pipekit_version": recorded.pipekit_version,
        "template_version": recorded.template_version,
    }
    if recorded.gitops_repo:
        data["gitops_repo"] = recorded.gitops_repo
    if recorded.pending_version:
        data["pending_upgrade"] = {
            "pipekit_version": recorded.pending_version,
            "conflicts": list(recorded.pending_conflicts),
        }
    data["answers"] = recorded.answers.to_dict()
    return HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def load(service_root: Path) -> Recorded | None:
    from pipekit.core import yamlload

    path = service_root / RECORD
    if not path.is_file():
        return None
    where = str(RECORD)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{where}: cannot read it: {exc}") from None
    data = yamlload.load(text, where)
    if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
        raise BadInput(f"{where}: expected a mapping with 'answers' (rerun pipekit init with your answers)")
    try:
        template_version = int(data.get("template_version", 0))
    except (TypeError, ValueError):
        raise BadInput(
            f"{where}: template_version {data.get('template_version')!r} is not a number"
        ) from None
    raw = data.get("pending_upgrade")
    pending: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Recorded(
        answers=Answers.from_dict(data["answers"], where),
        pipekit_version=str(data.get("pipekit_version", "")),
        template_version=template_version,
        gitops_repo=data.get("gitops_repo") or None,
        pending_version=str(pending["pipekit_version"]) if pending.get("pipekit_version") else None,
        pending_conflicts=tuple(str(c) for c in pending.get("conflicts") or ()),
    )


def baseline_path(repo: str, path: str) -> Path:
    return BASELINES / repo / path


def read_baseline(service_root: Path, repo: str, path: str) -> str | None:
    target = service_root / baseline_path(repo, path)
    return target.read_text(encoding="utf-8") if target.is_file() else None


def baselines(service_root: Path) -> list[tuple[str, str, str]]:
    """(repo, path, text) of every recorded baseline."""
    found = []
    for repo in ("service", "gitops"):
        top = service_root / BASELINES / repo
        for path in sorted(top.rglob("*")) if top.is_dir() else []:
            if path.is_file():
                found.append((repo, path.relative_to(top).as_posix(), path.read_text(encoding="utf-8")))
    return found
