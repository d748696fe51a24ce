"""The rehearsal's stages: the real steps, called through their library API on one run record.

Each stage builds its options through the step's own resolver, as its CLI does with no flag
given (``step.options_from(ctx, {})`` reading the rehearsal's ``pipekit.yaml``, its environment
and the run record), so results are handed on through the run record exactly as between
Bitbucket steps; what the local world changes (the registry host, the Argo CD stand-in) comes in
as environment variables, like a pipeline's. A stage returns a one-line detail;
the step itself records its section.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipekit.core.process import install_hint
from pipekit.core.revision import short_revision
from pipekit.onboarding.answers import GATES, RULES
from pipekit.rehearsal import hook, promotions, workspace
from pipekit.rehearsal.scanning import scan_stage
from pipekit.rehearsal.session import Rehearsal

__all__ = ["STAGES", "Rehearsal", "Stage", "missing_tools", "plan"]

if TYPE_CHECKING:
    pass

@dataclass
class Stage:
    name: str
    run: Callable[[Rehearsal], str]  # runs the step; returns a one-line detail
    requires: tuple[str, ...] = ("pipekit.notify",)  # modules
    tools: tuple[str, ...] = ()  # executables; "{tool}" is the container tool
    needs: tuple[str, ...] = ()  # stages whose outputs it reads: skipped unless they succeeded
    event_on_success: str = "succeeded"


# -- the stages ------------------------------------------------------------------------------
def build_stage(r: Rehearsal) -> str:
    from pipekit import build

    if "ecr_push" in r.planned:
        r.servers.start_aws()  # moto and the registry start while Maven runs
    ctx = r.context()
    result = build.run(build.options_from(ctx, {}), ctx)
    if result.image_id:
        r.servers.images.append((result.container_tool or r.container_tool, result.image_id))
    t = result.tests
    return f"{t.get('passed', 0)}/{t.get('total', 0)} tests passed; image {result.image_ref} ({(result.image_id or '')[:19]})"


def ecr_push_stage(r: Rehearsal) -> str:
    from pipekit import ecr_push

    moto, registry = r.servers.aws()
    aws = {**moto.aws_env(), "AWS_CONFIG_FILE": str(r.workdir / "aws" / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(r.workdir / "aws" / "credentials"),
           "REGISTRY_AUTH_FILE": str(r.workdir / "auth.json")}
    with workspace.environ(aws):  # botocore and the container tool read the process environment
        ctx = r.context({**aws, "PIPEKIT_ECR_REGISTRY_OVERRIDE": registry.host})
        result = ecr_push.run(ecr_push.options_from(ctx, {}), ctx)
        described = moto.client("ecr").describe_images(repositoryName=result.repository)["imageDetails"]
    in_ecr = sorted({d["imageDigest"] for d in described if set(d.get("imageTags") or []) & set(result.tags)})
    in_registry = registry.manifest_digest(result.repository, result.tags[0])
    if in_ecr != [result.digest] or in_registry != result.digest:
        raise RuntimeError(f"ecr_push recorded {result.digest}, but the ECR API (moto) has {in_ecr or 'nothing'} "
                           f"and the registry {in_registry or 'nothing'} for {result.tags[0]}")
    return (f"{len(result.tags)} tags -> {result.image_uri}@{(result.digest or '')[:19]} "
            "(the ECR API (moto) and the registry agree)")


def update_tag_stage(r: Rehearsal) -> str:
    from pipekit import update_tag
    from pipekit.rehearsal import onboard

    first = r.environments[0]
    ctx = r.context({"PIPEKIT_ENV": first})
    bare = r.workdir / "gitops.git"
    if "wait_for_argocd" in r.planned:  # Argo CD follows init's Application before the pipeline writes
        app = onboard.applications(bare, r.service, r.env).get(first)
        if app is None:
            raise RuntimeError(f"pipekit init wrote no Argo CD Application for {first} in {bare}")
        r.servers.follow(app.name, bare, app.path, hook_runner=hook.runner(r))
    result = update_tag.run(update_tag.options_from(ctx, {}), ctx)
    pinned = f"{result.tag}@{(result.digest or '')[:19]}" if result.digest else str(result.tag)
    return f"{result.overlay}: {pinned}, GitOps commit {short_revision(result.gitops_revision)} in {bare.name}"


def wait_for_argocd_stage(r: Rehearsal) -> str:
    from pipekit import wait_for_argocd as w

    argo = r.servers.argocd
    if argo is None:
        raise RuntimeError("the Argo CD stand-in is not running (update_tag did not start it)")
    ctx = r.context({"ARGOCD_SERVER": argo.server, "ARGOCD_AUTH_TOKEN": argo.token,
                     "PIPEKIT_ARGOCD_REQUEST_TIMEOUT": "5", "PIPEKIT_ARGOCD_UNREACHABLE_AFTER": "15"})
    options = dataclasses.replace(w.options_from(ctx, {}), backoff=0.2)  # a local stand-in answers at once
    result = w.run(options, ctx)
    return "; ".join(f"{a.name}: {a.sync}/{a.health}, {a.phase}, hooks "
                     + (", ".join(f"{h.get('name')} {h.get('phase') or h.get('status', '')}".strip() for h in a.hooks)
                        or "none")
                     for a in result.apps)


def dora_report(r: Rehearsal) -> str:
    """``pipekit dora`` over what the rehearsal deployed, every environment: the table on the
    terminal, an HTML file beside it."""
    from pipekit import dora

    ctx = r.context()
    bare = str(r.workdir / "gitops.git")
    html = r.workdir / "dora.html"
    dora.run(dora.DoraOptions(gitops_repo=bare, environments=()), ctx)  # () is every environment
    result = dora.run(dora.DoraOptions(gitops_repo=bare, environments=(), format="html", out=str(html)),
                      r.context(quiet=True))
    return f"dora: {result.deployments} deployment(s), every environment; HTML report {html}"


DEPLOY: list[Stage] = [  # the main job to the first environment
    Stage("build", build_stage, requires=("pipekit.build",), tools=("mvn", "{tool}")),
    Stage("scan", scan_stage, requires=("pipekit.scan",)),
    Stage("ecr_push", ecr_push_stage, requires=("pipekit.ecr_push", "moto"), tools=("docker-registry", "{tool}"),
          needs=("build",)),
    Stage("update_tag", update_tag_stage, requires=("pipekit.update_tag",), tools=("git", "kubectl"),
          needs=("build",)),
    Stage("wait_for_argocd", wait_for_argocd_stage, requires=("pipekit.wait_for_argocd", "pipekit.testing.argocd"),
          tools=("git", "kubectl"), needs=("update_tag",), event_on_success="deployed"),
    Stage("post_sync_test", hook.post_sync_test_stage, requires=("pipekit.post_sync_test",),
          needs=("wait_for_argocd",)),
]


def plan(environments: Mapping[str, object] | None = None) -> list[Stage]:
    """Every stage for these environments (the settings' ``environments:``; default: init's four):
    the main job to the first, then ``promote_<env>`` into each of the others."""
    if environments is None:
        environments = {env: {"promotion": rule, **({"gates": list(GATES[env])} if env in GATES else {})}
                        for env, rule in RULES.items()}
    out = list(DEPLOY)
    before = "update_tag"
    for p in promotions.plan(dict(environments)):
        requires = ("pipekit.promote", *(("pipekit.jira.release",) if "jira" in p.gates else ()))
        out.append(Stage(f"promote_{p.target}", p, requires=requires, tools=("git", "kubectl"), needs=(before,),
                         event_on_success="promoted"))
        before = f"promote_{p.target}"
    return out


STAGES: list[Stage] = plan()  # with pipekit init's environments


def missing_tools(stage: Stage, container_tool: str) -> list[str]:
    tools = [t.replace("{tool}", container_tool) for t in stage.tools]
    return [f"{t} not found" + (f" (install {hint})" if (hint := install_hint(t)) else "")
            for t in dict.fromkeys(tools) if shutil.which(t) is None]
