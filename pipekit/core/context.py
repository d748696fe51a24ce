"""Where and what we are building: Bitbucket Pipelines variables, or the local git checkout."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BITBUCKET_WEB = "https://bitbucket.org"


@dataclass(frozen=True)
class PipelineContext:
    """The pipeline run as Bitbucket describes it; every field optional outside Bitbucket."""

    commit: str | None = None
    branch: str | None = None
    tag: str | None = None
    build_number: str | None = None
    repo_slug: str | None = None
    workspace: str | None = None
    repo_full_name: str | None = None
    pr_id: str | None = None
    pr_destination_branch: str | None = None
    deployment_environment: str | None = None
    pipeline_uuid: str | None = None
    step_uuid: str | None = None
    git_http_origin: str | None = None
    exit_code: int | None = None
    author: str | None = None
    subject: str | None = None
    committed_at: str | None = None
    in_bitbucket: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    # -- derived ----------------------------------------------------------
    @property
    def short_sha(self) -> str | None:
        return self.commit[:7] if self.commit else None

    @property
    def ref_name(self) -> str | None:
        """The branch, or the tag on tag builds."""
        return self.branch or self.tag

    @property
    def kind(self) -> str:
        """One of: pull-request, tag, deployment, branch, local."""
        if self.pr_id:
            return "pull-request"
        if self.tag:
            return "tag"
        if self.deployment_environment:
            return "deployment"
        if self.in_bitbucket:
            return "branch"
        return "local"

    @property
    def failed(self) -> bool:
        """True in an after-script whose step failed."""
        return self.exit_code not in (None, 0)

    @property
    def repo_url(self) -> str | None:
        if self.git_http_origin:
            return self.git_http_origin.removesuffix(".git")
        if self.repo_full_name:
            return f"{BITBUCKET_WEB}/{self.repo_full_name}"
        return None

    @property
    def pipeline_url(self) -> str | None:
        if not (self.repo_url and self.build_number):
            return None
        url = f"{self.repo_url}/pipelines/results/{self.build_number}"
        if self.step_uuid:
            from urllib.parse import quote

            url += "/steps/" + quote(self.step_uuid, safe="")
        return url

    @property
    def commit_url(self) -> str | None:
        if self.repo_url and self.commit:
            return f"{self.repo_url}/commits/{self.commit}"
        return None

    @property
    def pr_url(self) -> str | None:
        if self.repo_url and self.pr_id:
            return f"{self.repo_url}/pull-requests/{self.pr_id}"
        return None

    @property
    def service(self) -> str | None:
        return self.repo_slug

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}
        data.update(
            kind=self.kind,
            short_sha=self.short_sha,
            pipeline_url=self.pipeline_url,
            commit_url=self.commit_url,
            pr_url=self.pr_url,
        )
        return {k: v for k, v in data.items() if v is not None}

    # -- construction -----------------------------------------------------
    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
    ) -> PipelineContext:
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name)
            return value.strip() if value and value.strip() else None

        exit_raw = get("BITBUCKET_EXIT_CODE")
        try:
            exit_code = int(exit_raw) if exit_raw is not None else None
        except ValueError:
            exit_code = None
        workspace = get("BITBUCKET_WORKSPACE")
        slug = get("BITBUCKET_REPO_SLUG")
        full = get("BITBUCKET_REPO_FULL_NAME") or (f"{workspace}/{slug}" if workspace and slug else None)
        values: dict[str, Any] = dict(
            commit=get("BITBUCKET_COMMIT"),
            branch=get("BITBUCKET_BRANCH"),
            tag=get("BITBUCKET_TAG"),
            build_number=get("BITBUCKET_BUILD_NUMBER"),
            repo_slug=slug,
            workspace=workspace,
            repo_full_name=full,
            pr_id=get("BITBUCKET_PR_ID"),
            pr_destination_branch=get("BITBUCKET_PR_DESTINATION_BRANCH"),
            deployment_environment=get("BITBUCKET_DEPLOYMENT_ENVIRONMENT"),
            pipeline_uuid=get("BITBUCKET_PIPELINE_UUID"),
            step_uuid=get("BITBUCKET_STEP_UUID"),
            git_http_origin=get("BITBUCKET_GIT_HTTP_ORIGIN"),
            exit_code=exit_code,
            in_bitbucket=bool(get("BITBUCKET_BUILD_NUMBER") or get("BITBUCKET_PIPELINE_UUID")),
        )
        git = _git_facts(Path(cwd) if cwd else Path.cwd(), values["commit"])
        for key in ("commit", "branch", "author", "subject", "committed_at"):
            if not values.get(key) and git.get(key):
                if key == "branch" and values.get("tag"):
                    continue  # tag builds have no branch
                values[key] = git[key]
        if not values["repo_slug"] and git.get("toplevel"):
            values["repo_slug"] = Path(git["toplevel"]).name
        return cls(**values)


def _git(args: list[str], cwd: Path) -> str | None:
    from pipekit.core import process
    from pipekit.core.errors import PipekitError

    try:  # a read only: no config of the GitOps client needed (core does not use clients)
        out = process.run(["git", *args], cwd=cwd, env=os.environ, timeout=10, check=False, what="git log")
    except PipekitError:  # no git, or git hung: the pipeline variables are all there is
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _toplevel(cwd: Path) -> Path | None:
    """The checkout folder holding ``cwd`` (a ``.git`` folder or file), without starting git."""
    if os.environ.get("GIT_DIR"):
        return cwd
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _git_facts(cwd: Path, commit: str | None) -> dict[str, str]:
    """Commit, branch, author, subject and commit time of the local checkout: one git call,
    none outside git."""
    cwd = cwd.resolve()
    top = _toplevel(cwd)
    if top is None:
        return {}
    facts: dict[str, str] = {"toplevel": str(top)} if not commit else {}
    line = _git(["log", "-1", "--format=%H%x00%an%x00%cI%x00%s%x00%D", commit or "HEAD", "--"], cwd)
    parts = line.split("\x00") if line else []
    if len(parts) == 5:
        facts.update(commit=parts[0], author=parts[1], committed_at=parts[2], subject=parts[3])
        # %D reads "HEAD -> main, origin/main" on a branch, "HEAD, ..." when detached.
        branch = re.search(r"HEAD -> ([^,]+)", parts[4])
        if branch and not commit:
            facts["branch"] = branch.group(1).strip()
    return facts
