"""The variables Bitbucket gives every step (Atlassian's "Variables and secrets", default variables).

Only the ones documented for the trigger are set: ``BITBUCKET_BRANCH`` for a branch, custom or
pull-request run, ``BITBUCKET_TAG`` for a tag, the ``BITBUCKET_PR_*`` pair for a pull request,
``BITBUCKET_PARALLEL_STEP*`` inside a parallel group, ``BITBUCKET_DEPLOYMENT_*`` for a deployment
step, ``BITBUCKET_STEP_OIDC_TOKEN`` with ``oidc: true``, ``BITBUCKET_DOCKER_HOST_INTERNAL`` with
services, ``BITBUCKET_EXIT_CODE`` in ``after-script``. The repository's identity comes from a
``bitbucket.org`` origin remote when it has one (else workspace ``local`` and the folder's name);
the UUIDs are stable ones made from it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from pipekit.pipelines.selection import Trigger

NAMESPACE = uuid.UUID("7b0d5f4e-6d43-4c55-9a55-7069706b6974")  # pipekit's own namespace for stable UUIDs
_ORIGIN = re.compile(r"bitbucket\.org[:/]+([^/]+)/([^/]+?)(?:\.git)?/?$")


def braced(value: uuid.UUID) -> str:
    return "{" + str(value) + "}"


def stable_uuid(*parts: str) -> str:
    return braced(uuid.uuid5(NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class Repository:
    workspace: str
    slug: str

    @classmethod
    def identify(cls, origin: str | None, folder: str) -> Repository:
        match = _ORIGIN.search(origin or "")
        if match:
            return cls(match.group(1), match.group(2).lower())
        slug = re.sub(r"[^a-z0-9_.-]+", "-", folder.lower()).strip("-") or "repository"
        return cls("local", slug)

    @property
    def full_name(self) -> str:
        return f"{self.workspace}/{self.slug}"

    @property
    def uuid(self) -> str:
        return stable_uuid("repository", self.full_name)

    @property
    def workspace_uuid(self) -> str:
        return stable_uuid("workspace", self.workspace)


@dataclass(frozen=True)
class RunInfo:
    repository: Repository
    trigger: Trigger
    commit: str
    build_number: int
    pipeline_uuid: str
    branch: str | None  # the branch the run is on (None for a tag)


def run_variables(run: RunInfo) -> dict[str, str]:
    repo = run.repository
    out = {
        "CI": "true",
        "BITBUCKET_BUILD_NUMBER": str(run.build_number),
        "BITBUCKET_COMMIT": run.commit,
        "BITBUCKET_WORKSPACE": repo.workspace,
        "BITBUCKET_REPO_OWNER": repo.workspace,
        "BITBUCKET_REPO_OWNER_UUID": repo.workspace_uuid,
        "BITBUCKET_REPO_SLUG": repo.slug,
        "BITBUCKET_REPO_UUID": repo.uuid,
        "BITBUCKET_REPO_FULL_NAME": repo.full_name,
        "BITBUCKET_REPO_IS_PRIVATE": "true",
        "BITBUCKET_GIT_HTTP_ORIGIN": f"http://bitbucket.org/{repo.full_name}",
        "BITBUCKET_GIT_SSH_ORIGIN": f"git@bitbucket.org:{repo.full_name}.git",
        "BITBUCKET_PIPELINE_UUID": run.pipeline_uuid,
        "BITBUCKET_PROJECT_KEY": "LOCAL",
        "BITBUCKET_PROJECT_UUID": stable_uuid("project", repo.workspace, "LOCAL"),
        "BITBUCKET_STEP_TRIGGERER_UUID": stable_uuid("user", "local"),
    }
    trigger = run.trigger
    if trigger.kind == "tag":
        out["BITBUCKET_TAG"] = trigger.name
    elif trigger.kind == "bookmark":
        out["BITBUCKET_BOOKMARK"] = trigger.name
    elif run.branch:
        out["BITBUCKET_BRANCH"] = run.branch
    if trigger.kind == "pr":
        out["BITBUCKET_PR_ID"] = "1"  # no pull request exists here: the first one
        out["BITBUCKET_PR_DESTINATION_BRANCH"] = trigger.destination
    return out


def step_variables(
    *,
    step_uuid: str,
    clone_dir: str,
    parallel: tuple[int, int] | None,
    deployment: str | None,
    repo: Repository,
    services: bool,
) -> dict[str, str]:
    out = {"BITBUCKET_STEP_UUID": step_uuid, "BITBUCKET_CLONE_DIR": clone_dir}
    if parallel is not None:
        out["BITBUCKET_PARALLEL_STEP"] = str(parallel[0])
        out["BITBUCKET_PARALLEL_STEP_COUNT"] = str(parallel[1])
    if deployment:
        out["BITBUCKET_DEPLOYMENT_ENVIRONMENT"] = deployment
        out["BITBUCKET_DEPLOYMENT_ENVIRONMENT_UUID"] = stable_uuid("environment", repo.full_name, deployment)
    if services:
        out["BITBUCKET_DOCKER_HOST_INTERNAL"] = "127.0.0.1"
    return out
