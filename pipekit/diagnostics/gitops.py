"""The GitOps repository the config names answers ``git ls-remote``."""

from __future__ import annotations

import os

from pipekit.core import process
from pipekit.core.errors import PipekitError
from pipekit.core.masking import mask_url
from pipekit.core.options import table_of
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok
from pipekit.gitops.settings import RepoOptions

KIND = "gitops"


def checks(plan: DoctorPlan) -> list[Check]:
    repo = table_of(RepoOptions).resolve_from({}, plan.env, plan.config)["gitops_repo"]
    if not repo:
        return []
    return [Check("endpoint:gitops", KIND, lambda: check(plan, str(repo)))]


def check(plan: DoctorPlan, repo: str) -> CheckOutcome:
    env = {**os.environ, **plan.env, "GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
    shown = mask_url(repo)
    try:
        result = process.run(
            ["git", "ls-remote", "--symref", repo, "HEAD"],
            env=env,
            timeout=plan.timeout,
            check=False,
            what=f"git ls-remote {shown}",
        )
    except PipekitError as exc:
        return fail(str(exc), "check gitops.repo and that the pipeline can reach it")
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return fail(
            f"git ls-remote {shown} failed: {why[:160]}",
            "check the repository URL and the pipeline's access (SSH key or token)",
        )
    head = next((line.split()[1] for line in result.stdout.splitlines() if line.startswith("ref:")), "HEAD")
    return ok(f"{shown} answered (default branch {head.removeprefix('refs/heads/')})")
