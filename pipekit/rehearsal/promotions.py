"""The rehearsal's promotions: one stage per environment after the first, as the settings' rules say.

With ``pipekit init``'s settings: ``promote_qa`` (gated by jira), ``promote_preprod`` and
``promote_prod`` (both ``manual``). For preprod the real ``promote`` step runs twice: first without
approval, which must be refused (exit 1, the message naming the ``manual`` rule) with nothing
committed to the GitOps repository; then as a Bitbucket deployment step for preprod gives it
(``--approve`` and ``BITBUCKET_DEPLOYMENT_ENVIRONMENT=preprod``); prod is then promoted with
approval. Each runs through ``promote.options_from(ctx, flags)`` with the flags a pipeline passes,
on the rehearsal's one ``pipekit.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipekit.core.revision import short_revision
from pipekit.rehearsal import workspace

if TYPE_CHECKING:
    from pipekit.core.step import StepContext
    from pipekit.rehearsal.session import Rehearsal

def _context(r: Rehearsal, deployment_environment: str | None) -> StepContext:
    from pipekit.core.console import Console
    from pipekit.core.step import StepContext

    env = dict(r.env)
    if deployment_environment:  # a Bitbucket deployment step for that environment
        env["BITBUCKET_DEPLOYMENT_ENVIRONMENT"] = deployment_environment
    ctx = StepContext.create(env=env, run_record=r.record_path, config_path=r.workdir / "pipekit.yaml",
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
        raise RuntimeError(f"the refused promotion {source} -> {target} committed {short_revision(after)} to the GitOps repo")
    return reason


@dataclass
class Promotion:
    """One promotion stage, ``promote_<target>``: what the target's rule and gates call for.

    ``manual``: refused without approval (nothing committed) when ``refuse_first``, then approved
    in the target's deployment (``--approve``); ``gated`` with a ``jira`` gate: through the Jira
    stand-in (:func:`pipekit.rehearsal.jira.promote_gated`); ``auto``, or other gates: promoted
    as a pipeline step would, the gates evaluated as they are.
    """

    source: str
    target: str
    rule: str
    gates: tuple[str, ...] = ()
    refuse_first: bool = False

    def __call__(self, r: Rehearsal) -> str:
        from pipekit.rehearsal import jira

        if "jira" in self.gates:
            return jira.promote_gated(r, self.source, self.target, {"services": (r.service,)})
        said = ""
        if self.rule == "manual" and self.refuse_first:
            reason = refused(r, self.source, self.target)
            r.console.info(f"refused as it must be: {reason}")
            said = f"without approval: refused, nothing committed ({reason.split(': ', 1)[-1]}); "
        approve = self.rule == "manual"
        result = promote(r, self.source, self.target, approve=approve)
        how = f"approved in the {self.target} deployment, " if approve else ""
        return (f"{said}{', '.join(result.services) or 'nothing'} {self.source} -> {self.target} ({how}rule "
                f"{result.rule}), GitOps commit {short_revision(result.gitops_revision)}")


def plan(environments: dict[str, Any]) -> list[Promotion]:
    """A promotion into every environment after the first, in order; the first ``manual`` one is
    rehearsed refused before it is approved."""
    from pipekit.promotion import rules

    envs = rules.load(environments)
    out: list[Promotion] = []
    for env in list(envs.values())[1:]:
        if env.source is None:
            continue
        first_manual = env.promotion == "manual" and not any(p.rule == "manual" for p in out)
        out.append(Promotion(env.source, env.name, env.promotion, tuple(env.gates), refuse_first=first_manual))
    return out


def history_report(r: Rehearsal) -> str:
    """``pipekit history`` of the sample service over the GitOps repository, every environment."""
    from pipekit import history

    ctx = r.context()
    result = history.run(history.options_from(ctx, {}), ctx)
    where = sorted({e.environment for e in result.deployments if e.current})
    return f"history: {len(result.deployments)} deployment(s) of {result.service}; running in {', '.join(where)}"
