"""The rehearsal's ``promote_qa`` stage: dev -> qa through the ``jira`` gate, against a local Jira.

qa is made a ``gated`` environment with ``gates: [jira]`` in a copy of the rehearsal's
``pipekit.yaml``; the Jira stand-in (:mod:`pipekit.testing.jira`) holds the version the build
recorded (the Maven project version), unreleased, with its issues ready, and is stopped when the
stage ends. The promoted tag is the short SHA, so the gate names the version from the run
record's build, which pushed that tag. The real ``promote`` step then evaluates the real gate over HTTP and commits to qa.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pipekit.core.console import Console
    from pipekit.core.step import StepContext


class Rehearsal(Protocol):
    """What this stage uses of :class:`pipekit.rehearsal.stages.Rehearsal` (which registers it)."""

    workdir: Path
    env: dict[str, str]
    service: str
    repo: Path
    console: Console

    @property
    def record_path(self) -> Path: ...

    def context(self, extra_env: Mapping[str, str] | None = None, *, quiet: bool = False) -> StepContext: ...

PROJECT = "DEMO"
EMAIL, TOKEN = "rehearsal@pipekit.local", "local-rehearsal-jira-token"
GATED_QA = f"""
environments:
  dev: {{}}
  qa:
    promotion: gated
    gates: [jira]
jira:
  project: {PROJECT}
  require: unreleased
  allowed_statuses: [Done, Ready for QA]
"""


def promote_qa_stage(r: Rehearsal) -> str:
    from pipekit import promote
    from pipekit.core.console import Console
    from pipekit.core.outputs import BuildOutputs, JiraGateOutputs
    from pipekit.core.step import StepContext
    from pipekit.jira import version as versions
    from pipekit.testing.jira import JiraStandIn

    built = BuildOutputs.read(r.context(quiet=True).record).version or "1.0.0"
    version = versions.apply(versions.compile_pattern(versions.DEFAULT_PATTERN), built, "the build's version")
    config = r.workdir / "pipekit-qa-gated.yaml"
    config.write_text((r.workdir / "pipekit.yaml").read_text(encoding="utf-8") + GATED_QA, encoding="utf-8")
    with JiraStandIn(email=EMAIL, token=TOKEN) as jira:
        jira.add_version(PROJECT, version)
        jira.add_issue(PROJECT, f"{r.service}: the change under test", "Ready for QA", fix_versions=(version,))
        jira.add_issue(PROJECT, f"{r.service}: its docs", "Done", fix_versions=(version,))
        if getattr(r, "fail_at", "") == "gate":  # pipekit rehearse --fail-at gate: one issue not ready
            jira.add_issue(PROJECT, f"{r.service}: a blocker found in review", "In Progress", fix_versions=(version,))
        # the promoted tag is the short SHA: the gate takes the version of the build that pushed it
        env = {**r.env, "JIRA_BASE_URL": jira.base_url, "JIRA_USER_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
        ctx = StepContext.create(env=env, run_record=r.record_path, config_path=config,
                                 debug=r.console.debug_enabled, cwd=r.repo)
        ctx.console = Console(stream=io.StringIO(), debug=r.console.debug_enabled)
        flags = {"gitops_repo": str(r.workdir / "gitops.git"), "source": "dev", "target": "qa",
                 "services": (r.service,)}
        result = promote.run(promote.options_from(ctx, flags), ctx)  # the environments come from the config
    gate = JiraGateOutputs.read(ctx.record)
    return (f"{', '.join(result.services) or 'nothing'} dev -> qa ({result.rule}: jira {gate.project} {gate.version} "
            f"{gate.state}, {gate.issues} issues ready), GitOps commit {result.gitops_revision[:12]}")
