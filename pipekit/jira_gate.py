"""``pipekit jira-gate``: is the release version ready in Jira? Also promote's ``jira`` gate.

Name the version (``--version``, else the git tag, else the Maven project version through
``--version-pattern``), find it in the project by exact name, refuse an archived one, check it is
released or unreleased as ``--require`` says, and with ``--allowed-statuses`` check every issue
fixed in it. Record the decision for ``notify``; a blocked gate exits 1 listing what would unblock
each issue. As the ``jira`` gate of ``pipekit promote`` (:func:`evaluate`) it reads the same
settings from the environment and ``pipekit.yaml`` and checks the version of the images promoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.core.options import resolve
from pipekit.core.step import StepContext, step_command
from pipekit.jira import version as versions
from pipekit.jira.release import JiraGateResult, check, evaluate, promoted_versions, report, to_result
from pipekit.jira.settings import REQUIRE, JiraGateOptions

__all__ = [
    "REQUIRE",
    "JiraGateOptions",
    "JiraGateResult",
    "check",
    "evaluate",
    "main",
    "options_from",
    "promoted_versions",
    "report",
    "run",
    "to_result",
]


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> JiraGateOptions:
    return replace(resolve(JiraGateOptions, ctx, flags).options, tag=ctx.pipeline.tag)


def run(options: JiraGateOptions, ctx: StepContext) -> JiraGateResult:
    if not options.project:
        raise BadInput("no Jira project: pass --project KEY or set PIPEKIT_JIRA_PROJECT (or jira.project)")
    resolved = versions.resolve(options.version, options.tag, options.pom, options.version_pattern)
    return check(options, resolved, ctx)


@step_command(
    "jira-gate",
    JiraGateOptions,
    help="Check the release version in Jira: exists, released/unreleased, every issue in an allowed status.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> JiraGateResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
