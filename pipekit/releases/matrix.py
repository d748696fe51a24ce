"""The environment matrix: one cell per service and environment, from the GitOps history.

Each cell is the deployment running now (:func:`pipekit.deployments.reader.latest`), or the
overlay's image as onboarded when no commit deployed it yet. Marks: ``ahead`` where an
environment runs something newer than the environment it is promoted from (a hotfix straight
in: by the source commit's time, else the build number), ``rolled-back`` where the last
deployment was a rollback or revert. Argo CD's marks come from :mod:`pipekit.releases.live`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pipekit.core.errors import BadInput
from pipekit.deployments.model import Deployment
from pipekit.gitops.refs import ImageRef
from pipekit.releases.model import AHEAD, ROLLED_BACK, Cell, StatusReport


def environments(
    chain: Sequence[str], seen: Sequence[str], wanted: Sequence[str], flag: str = "--env"
) -> list[str]:
    """The columns: the promotion chain's order, then environments only the repository knows;
    ``wanted`` (``--env``) narrows them, and an unknown one is bad input naming it."""
    known = list(dict.fromkeys([*chain, *sorted(set(seen) - set(chain))]))
    unknown = [e for e in wanted if e not in known]
    if unknown:
        raise BadInput(
            f"{flag} {unknown[0]}: unknown environment (known: {', '.join(known) or 'none'})",
            hint="environments come from pipekit.yaml environments: and the GitOps overlays",
        )
    return [e for e in known if e in wanted] if wanted else known


def services(seen: Sequence[str], wanted: Sequence[str], where: str = "the GitOps repository") -> list[str]:
    unknown = [s for s in wanted if s not in seen]
    if unknown:
        near = ", ".join(sorted(seen)[:8]) + (", ..." if len(seen) > 8 else "")
        raise BadInput(
            f"--service {unknown[0]}: no overlay of that service in {where} (services: {near or 'none'})",
            hint="check the name and gitops.overlay",
        )
    return [s for s in sorted(seen) if s in wanted] if wanted else sorted(seen)


def cell_of(dep: Deployment, now: datetime) -> Cell:
    return Cell(
        service=dep.service,
        environment=dep.environment,
        image=dep.reference,
        tag=dep.tag,
        digest=dep.digest,
        since=dep.deployed_at.isoformat(),
        age_s=max(0.0, (now - dep.deployed_at).total_seconds()),
        author=dep.author,
        kind=dep.kind,
        promoted_from=dep.promoted_from,
        rollback_of=dep.rollback_of or dep.revert_of,
        build_url=dep.build_url,
        build_number=dep.build_number,
        gitops_commit=dep.commit,
        source_commit=dep.source_commit,
        source_committed_at=dep.source_committed_at.isoformat() if dep.source_committed_at else None,
    )


def onboarded(service: str, environment: str, ref: ImageRef | None) -> Cell:
    return Cell(
        service=service,
        environment=environment,
        image=ref.reference if ref else "",
        deployed=False,
        tag=ref.new_tag if ref else None,
        digest=ref.digest if ref else None,
        kind="onboarded",
    )


def build(
    report: StatusReport,
    current: Mapping[tuple[str, str], Deployment],
    first: Mapping[tuple[str, str], Cell],
    now: datetime,
) -> StatusReport:
    """Fill ``report.cells`` for its services and environments, then mark them."""
    for service in report.services:
        row: dict[str, Cell] = {}
        for env in report.environments:
            dep = current.get((service, env))
            cell = cell_of(dep, now) if dep is not None else first.get((service, env))
            if cell is not None:
                row[env] = cell
        report.cells[service] = row
    for service, row in report.cells.items():
        for env, cell in row.items():
            if cell.kind in ("rollback", "revert"):
                mark(cell, ROLLED_BACK, f"{cell.kind} of {(cell.rollback_of or '?')[:12]}")
            up = report.upstream.get(env)
            other = row.get(up) if up else None
            if other is None:
                other = current_cell(current, service, up, now) if up else None
            if other is not None and newer(cell, other):
                mark(
                    cell,
                    AHEAD,
                    f"newer than {up}'s {other.version or other.image} ({why_newer(cell, other)})",
                )
    return report


def current_cell(
    current: Mapping[tuple[str, str], Deployment], service: str, env: str, now: datetime
) -> Cell | None:
    dep = current.get((service, env))
    return cell_of(dep, now) if dep is not None else None


def mark(cell: Cell, name: str, note: str) -> None:
    if name not in cell.marks:
        cell.marks.append(name)
        cell.notes.append(f"{name}: {note}")


def newer(cell: Cell, other: Cell) -> bool:
    """``cell`` runs something built after what ``other`` runs: by the source commit's time, else
    by the build number; unknown (False) when neither is recorded on both sides."""
    if not cell.deployed or not other.deployed or cell.image == other.image:
        return False
    if cell.source_commit and cell.source_commit == other.source_commit:
        return False
    if cell.source_committed_at and other.source_committed_at:
        return datetime.fromisoformat(cell.source_committed_at) > datetime.fromisoformat(
            other.source_committed_at
        )
    if cell.build_number is not None and other.build_number is not None:
        return cell.build_number > other.build_number
    return False


def why_newer(cell: Cell, other: Cell) -> str:
    if cell.source_committed_at and other.source_committed_at:
        return (
            f"source committed {cell.source_committed_at[:16].replace('T', ' ')} against "
            f"{other.source_committed_at[:16].replace('T', ' ')}"
        )
    return f"build {cell.build_number} against {other.build_number}"
