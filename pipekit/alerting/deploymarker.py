"""The deploy marker: when a deployment made by this run reached its environment, and which tag.

``pipekit notify`` pushes it to a Prometheus Pushgateway after a successful deploy, promote or
rollback step (``--push-gateway``, ``PIPEKIT_PUSHGATEWAY_URL``): one gauge,
``pipekit_deploy_timestamp_seconds{tag}``, in the group ``job=pipekit_deploy, service, environment``.
A PUT replaces the group, so the Pushgateway holds each service's latest deploy per environment,
and the after-deploy alerts (ErrorsAfterDeploy, RestartsAfterDeploy) join on it to name the tag.

notify runs in the deploy step's after-script, after ``wait-for-argocd``: the time is when the
new version was synced and healthy, within seconds, which a scheduled ``pipekit dora`` run could
not say (the GitOps commit is earlier, and dora runs hourly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipekit.core.runrecord import RunRecord

JOB = "pipekit_deploy"
METRIC = "pipekit_deploy_timestamp_seconds"


@dataclass
class Deploy:
    service: str
    environment: str
    tag: str
    kind: str  # deploy | promotion | rollback


def from_record(record: RunRecord, service: str, environment: str | None) -> Deploy | None:
    """The deployment this run pushed to the GitOps repository (None: it pushed none, or not here)."""
    from pipekit.core.outputs import PromoteResult, RollbackResult, UpdateTagResult

    rollback = RollbackResult.read(record)
    if rollback.succeeded and rollback.status == "pushed" and rollback.environment:
        found = Deploy(service, rollback.environment, _tag(rollback.tag, rollback.digest), "rollback")
    else:
        update, promote = UpdateTagResult.read(record), PromoteResult.read(record)
        if update.succeeded and update.status == "pushed" and update.environment:
            found = Deploy(
                update.service or service, update.environment, _tag(update.tag, update.digest), "deploy"
            )
        elif (
            promote.succeeded
            and promote.status == "pushed"
            and promote.target
            and service in (promote.images or {})
        ):
            reference = str((promote.images or {})[service])
            found = Deploy(service, promote.target, _tag(*_split(reference)), "promotion")
        else:
            return None
    if environment and found.environment != environment:
        return None
    return found


def _split(reference: str) -> tuple[str | None, str | None]:
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag, digest or None


def _tag(tag: str | None, digest: str | None) -> str:
    return tag or (digest or "unknown")[:19]


def exposition(deploy: Deploy, at: float) -> str:
    from pipekit.deployments.writers.prometheus import label

    return (
        f"# HELP {METRIC} When pipekit last deployed the service to the environment "
        "(after wait-for-argocd).\n"
        f"# TYPE {METRIC} gauge\n"
        f'{METRIC}{{tag="{label(deploy.tag)}",kind="{deploy.kind}"}} {at:.3f}\n'
    )


def push(url: str, deploy: Deploy, at: float, timeout: float = 10.0) -> str:
    from pipekit.clients import pushgateway

    return pushgateway.push(
        url,
        JOB,
        exposition(deploy, at),
        timeout=timeout,
        grouping={"service": deploy.service, "environment": deploy.environment},
    )
