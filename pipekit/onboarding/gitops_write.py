"""init's GitOps files committed and pushed through the update-tag writer (clone, edit, push, retry).

The edit plans and checks the files on the fresh clone every time it runs, so after a rejected
push (another service onboarding at the same moment) it is planned again on the new tip.
Nothing is pushed while a check fails, a file is edited by hand or a merge conflicts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipekit.clients.git import Git
from pipekit.core.step import StepContext
from pipekit.gitops import settings, trailers
from pipekit.gitops.writer import Change
from pipekit.onboarding import apply, plan, record
from pipekit.onboarding.answers import Answers


def through_writer(
    ctx: StepContext,
    repo: str,
    answers: Answers,
    prepare: Callable[[Path], apply.Prepared],
    options: Any,
    new: record.Recorded,
) -> tuple[apply.Prepared, str | None, int]:
    writer = settings.WriteOptions(gitops_repo=repo, branch=answers.gitops_branch, renderer="none").writer(
        ctx
    )
    holder: dict[str, apply.Prepared] = {}

    def edit(root: Path, git: Git) -> Change:
        prepared = prepare(root)
        holder["prepared"] = prepared
        blocked = (
            prepared.report.problems
            or prepared.having(plan.HAND_EDITED, plan.CONFLICT)
            or options.check
            or options.dry_run
        )
        if blocked:
            return Change([], "")
        written = apply.write_tree(root, [p for p in prepared.plans if p.repo == "gitops"])
        if written:
            git.run("add", "--all", "--", *written)
        return Change(written, commit_message(answers, new, bool(options.upgrade)))

    outcome = writer.write([f"apps/{answers.service}", f"argocd/{answers.service}"], edit)
    revision = outcome.revision if outcome.status == "pushed" else None
    return holder["prepared"], revision, outcome.retries


def commit_message(answers: Answers, new: record.Recorded, upgrade: bool) -> str:
    what = "upgrade to" if upgrade else "onboard with"
    return trailers.commit_message(
        f"{answers.service}: {what} pipekit init {new.pipekit_version}",
        [
            f"Environments: {', '.join(answers.environments)}",
            f"Image: {answers.image_repo}",
        ],
        trailers.Trailers(
            init_version=new.pipekit_version,
            template_version=str(new.template_version),
            groups=[trailers.Group(answers.service)],
        ),
    )
