"""The rehearsal's promotions past qa: preprod and prod, both ``manual`` as ``pipekit init`` makes them.

After ``promote_qa``, the real ``promote`` step runs qa -> preprod twice: first without approval,
which must be refused (exit 1, the message naming the ``manual`` rule) with nothing committed to
the GitOps repository; then as a Bitbucket deployment step for preprod gives it (``--approve`` and
``BITBUCKET_DEPLOYMENT_ENVIRONMENT=preprod``). ``prod`` is then promoted from preprod the same
way. Each runs through ``promote.options_from(ctx, flags)`` with the flags a pipeline passes, on a
copy of the rehearsal's ``pipekit.yaml`` that declares the environments and their rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipekit.rehearsal import workspace

if TYPE_CHECKING:
    from pipekit.core.step import StepContext
    from pipekit.rehearsal.jira import Rehearsal  # the part of stages.Rehearsal used here (no import cycle)

RULES = """
environments:
  dev: {}
  qa: {promotion: gated, gates: [jira]}
  preprod: {promotion: manual}
  prod: {promotion: manual}
"""


def _context(r: Rehearsal, deployment_environment: str | None) -> StepContext:
    from pipekit.core.console import Console
    from pipekit.core.step import StepContext

    config = r.workdir / "pipekit-environments.yaml"
    if not config.exists():
        config.write_text((r.workdir / "pipekit.yaml").read_text(encoding="utf-8") + RULES, encoding="utf-8")
    env = dict(r.env)
    if deployment_environment:  # a Bitbucket deployment step for that environment
        env["BITBUCKET_DEPLOYMENT_ENVIRONMENT"] = deployment_environment
    ctx = StepContext.create(env=env, run_record=r.record_path, config_path=config,
                             debug=r.console.debug_enabled, cwd=r.repo)
    ctx.console = Console(stream=r.console.stream, debug=r.console.debug_enabled)
    return ctx


def _head(r: Rehearsal) -> str:
    return workspace.git("rev-parse", "refs/heads/main", cwd=r.workdir / "gitops.git", env=r.env)


def promote(r: Rehearsal, source: str, target: str, *, approve: bool) -> Any:
    from pipekit import promote as step

    ctx = _context(r, target if approve else None)
    flags: dict[str, Any] = {"source": source, "target": target, "services": (r.service,)}
    if approve:
        flags["approve"] = True
    return step.run(step.options_from(ctx, flags), ctx)


def refused(r: Rehearsal, source: str, target: str) -> str:
    """Promote without approval: it must be exit 1 naming the manual rule, with nothing committed."""
    from pipekit.core.errors import CheckFailed

    before = _head(r)
    try:
        promote(r, source, target, approve=False)
    except CheckFailed as exc:
        if int(exc.exit_code) != 1 or "rule 'manual'" not in str(exc):
            raise RuntimeError(f"promote {source} -> {target} without approval: exit {int(exc.exit_code)}, "
                               f"{exc} (expected exit 1 naming the rule 'manual')") from exc
        reason = str(exc)
    else:
        raise RuntimeError(f"promote {source} -> {target} without approval was not refused ({target} is manual)")
    after = _head(r)
    if after != before:
        raise RuntimeError(f"the refused promotion {source} -> {target} committed {after[:12]} to the GitOps repo")
    return reason


def promote_preprod_stage(r: Rehearsal) -> str:
    reason = refused(r, "qa", "preprod")
    r.console.info(f"refused as it must be: {reason}")
    result = promote(r, "qa", "preprod", approve=True)
    return (f"without approval: refused, nothing committed ({reason.split(': ', 1)[-1]}); approved in the preprod "
            f"deployment: {', '.join(result.services) or 'nothing'} qa -> preprod ({result.rule}), "
            f"GitOps commit {result.gitops_revision[:12]}")


def promote_prod_stage(r: Rehearsal) -> str:
    result = promote(r, "preprod", "prod", approve=True)
    return (f"{', '.join(result.services) or 'nothing'} preprod -> prod ({result.rule}, approved in the prod "
            f"deployment), GitOps commit {result.gitops_revision[:12]}")


def history_report(r: Rehearsal) -> str:
    """``pipekit history`` of the sample service over the GitOps repository, every environment."""
    from pipekit import history

    ctx = r.context()
    result = history.run(history.options_from(ctx, {}), ctx)
    where = sorted({e.environment for e in result.deployments if e.current})
    return f"history: {len(result.deployments)} deployment(s) of {result.service}; running in {', '.join(where)}"
