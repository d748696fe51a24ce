"""The ``restricted`` Pod Security Standard, as Pod Security Admission checks a pod spec.

What a namespace labelled ``pod-security.kubernetes.io/enforce: restricted`` refuses (the
baseline controls included), for the pod template of a Deployment or a Job: each problem names
the field and what the level wants. Windows pods and the AppArmor, SELinux and ``/proc`` mount
controls (fields pipekit never writes) are left to the admission controller.
"""

from __future__ import annotations

from typing import Any

# Volume types the restricted level allows (every other one, hostPath included, is refused).
VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}
SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}
_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(key) or []:
            if isinstance(c, dict):
                out.append((f"{key}[{c.get('name', '?')}]", c))
    return out


def restricted(pod: dict[str, Any], where: str) -> list[str]:
    """Every way ``pod`` (a PodSpec) breaks the restricted level, each naming ``where`` and the field."""
    problems: list[str] = []
    psc = pod.get("securityContext") or {}
    for key in _HOST_NAMESPACES:
        if pod.get(key):
            problems.append(f"{where}: spec.{key} must not be true")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"} if isinstance(volume, dict) else set()
        if not kinds <= VOLUME_TYPES:
            problems.append(
                f"{where}: volume {volume.get('name')!r} is of type {', '.join(sorted(kinds - VOLUME_TYPES))}"
                f" (allowed: {', '.join(sorted(VOLUME_TYPES))})"
            )
    if psc.get("runAsUser") == 0:
        problems.append(f"{where}: securityContext.runAsUser must not be 0")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_TYPES:
        problems.append(
            f"{where}: securityContext.seccompProfile.type must be RuntimeDefault or Localhost, "
            f"not {pod_seccomp}"
        )
    for name, c in _containers(pod):
        sc = c.get("securityContext") or {}
        at = f"{where}: {name}.securityContext"
        if sc.get("privileged"):
            problems.append(f"{at}.privileged must not be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}.allowPrivilegeEscalation must be false")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{at}.runAsNonRoot (or the pod's) must be true")
        if sc.get("runAsUser") == 0:
            problems.append(f"{at}.runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_TYPES:
            problems.append(f"{at}.seccompProfile.type (or the pod's) must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{at}.capabilities.drop must include ALL")
        added = set(caps.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            problems.append(
                f"{at}.capabilities.add may hold only NET_BIND_SERVICE, not {', '.join(sorted(added))}"
            )
        for port in c.get("ports") or []:
            if isinstance(port, dict) and port.get("hostPort"):
                problems.append(f"{where}: {name} port {port.get('containerPort')} must not set hostPort")
    return problems


def missing_resources(pod: dict[str, Any], where: str) -> list[str]:
    """Containers without cpu and memory requests and limits (a ResourceQuota on them refuses the pod)."""
    problems = []
    for name, c in _containers(pod):
        if name.startswith("ephemeralContainers"):
            continue
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            lacking = [r for r in ("cpu", "memory") if not (res.get(kind) or {}).get(r)]
            if lacking:
                problems.append(f"{where}: {name}.resources.{kind} has no {' and no '.join(lacking)}")
    return problems
