"""``--wait-ready KIND/NAME``: the workloads a PostSync test waits for."""

from __future__ import annotations

from dataclasses import dataclass

from pipekit.clients.kubernetes import DAEMONSETS, DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, Resource
from pipekit.core.errors import BadInput

# kubectl's names and short names for each supported kind -> the canonical kind
ALIASES = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "deployment.apps": "Deployment",
    "deployments.apps": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "statefulset.apps": "StatefulSet",
    "statefulsets.apps": "StatefulSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
    "daemonset.apps": "DaemonSet",
    "daemonsets.apps": "DaemonSet",
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
}
SUPPORTED = "deployment (deploy), statefulset (sts), daemonset (ds), pod (po)"

# what each kind needs mirrored to be judged
NEEDS: dict[str, tuple[Resource, ...]] = {
    "Deployment": (DEPLOYMENTS, REPLICASETS, PODS),
    "StatefulSet": (STATEFULSETS, PODS),
    "DaemonSet": (DAEMONSETS, PODS),
    "Pod": (PODS,),
}
RESOURCE = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS, "Pod": PODS}


@dataclass(frozen=True)
class Target:
    kind: str  # Deployment | StatefulSet | DaemonSet | Pod
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    @property
    def resource(self) -> Resource:
        return RESOURCE[self.kind]


def parse(spec: str, flag: str = "--wait-ready") -> Target:
    kind, sep, name = spec.strip().partition("/")
    if not sep or not kind or not name or "/" in name:
        raise BadInput(
            f"{flag} {spec!r}: use KIND/NAME, e.g. deployment/orders (supported kinds: {SUPPORTED})"
        )
    canonical = ALIASES.get(kind.lower())
    if canonical is None:
        raise BadInput(f"{flag} {spec!r}: unknown kind {kind!r}; supported kinds: {SUPPORTED}")
    return Target(canonical, name)


def parse_all(specs: tuple[str, ...] | list[str], flag: str = "--wait-ready") -> list[Target]:
    targets: list[Target] = []
    for spec in specs:
        target = parse(spec, flag)
        if target not in targets:
            targets.append(target)
    return targets
