"""A promotion through the ``jira`` gate (``promote_qa`` by default), against a local Jira.

The environment is ``gated`` with ``gates: [jira]`` in the rehearsal's settings (as ``pipekit
init`` writes qa, or as the user's ``--config`` says); the Jira stand-in
(:mod:`pipekit.testing.jira`) holds the version the build recorded (the Maven project version,
through the settings' ``jira.version_pattern``) in the settings' project, released or not as
``jira.require`` says, with its issues in the allowed statuses, and is stopped when the stage
ends. The promoted tag is the short SHA, so the gate names the version from the run record's
build, which pushed that tag. The real ``promote`` step then evaluates the real gate over HTTP.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipekit.core.revision import short_revision

if TYPE_CHECKING:
    from pipekit.rehearsal.session import Rehearsal


EMAIL, TOKEN = "rehearsal@pipekit.local", "local-rehearsal-jira-token"


def promote_gated(r: Rehearsal, source: str, target: str, flags: Mapping[str, object]) -> str:
    """``promote --from SOURCE --to TARGET`` through the ``jira`` gate, against a Jira stand-in
    seeded from the settings' ``jira:`` section (project, ``require``, ``allowed_statuses``)."""
    from pipekit import promote
    from pipekit.core.console import Console
    from pipekit.core.options import resolve
    from pipekit.core.outputs import BuildResult
    from pipekit.core.step import StepContext
    from pipekit.jira import version as versions
    from pipekit.jira.release import JiraGateResult
    from pipekit.jira.settings import JiraGateOptions
    from pipekit.testing.jira import JiraStandIn

    config = r.workdir / "pipekit.yaml"
    probe = StepContext.create(env=r.env, run_record=r.record_path, config_path=config, cwd=r.repo)
    gate = resolve(JiraGateOptions, probe).options
    project, require = gate.project or "DEMO", gate.require
    ready = list(gate.allowed_statuses) or ["Done"]
    built = BuildResult.read(probe.record).version or "1.0.0"
    pattern = gate.version_pattern or versions.DEFAULT_PATTERN
    version = versions.apply(versions.compile_pattern(pattern), built, "the build's version")
    with JiraStandIn(email=EMAIL, token=TOKEN) as jira:
        jira.add_version(project, version, released=require == "released")
        jira.add_issue(project, f"{r.service}: the change under test", ready[-1], fix_versions=(version,))
        jira.add_issue(project, f"{r.service}: its docs", ready[0], fix_versions=(version,))
        if getattr(r, "fail_at", "") == "gate":  # pipekit rehearse --fail-at gate: one issue not ready
            jira.add_issue(project, f"{r.service}: a blocker found in review", "In Progress", fix_versions=(version,))
        # the promoted tag is the short SHA: the gate takes the version of the build that pushed it
        env = {**r.env, "JIRA_BASE_URL": jira.base_url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
        ctx = StepContext.create(env=env, run_record=r.record_path, config_path=config,
                                 debug=r.console.debug_enabled, cwd=r.repo)
        ctx.console = Console(stream=io.StringIO(), debug=r.console.debug_enabled)
        result = promote.run(promote.options_from(ctx, {"source": source, "target": target, **flags}), ctx)
    out = JiraGateResult.read(ctx.record)
    return (f"{', '.join(result.services or []) or 'nothing'} {source} -> {target} ({result.rule}: jira {out.project} "
            f"{out.version} {out.state}, {out.issues} issues ready), GitOps commit {short_revision(result.gitops_revision)}")
