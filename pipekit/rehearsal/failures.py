"""``pipekit rehearse --fail-at WHAT``: make one step of the pipeline fail for real,
by changing what it reads.

Nothing in the pipeline or its steps changes: the sample's commit or a stand-in does, and the real
step meets it as it would in a real pipeline.

- ``scan``: the Trivy report gated for SCA holds a critical finding: the security gate blocks;
- ``tests``: the sample's commit adds a failing JUnit test: the unit tests fail;
- ``deploy``: the Argo CD stand-in reports the first environment's app ``Degraded``, its operation
  ``Failed``: the first deployment step's ``wait-for-argocd`` fails;
- ``hook``: the PostSync Job's API tests ask for 99 ready replicas (``DEMO_API_MIN_READY=99`` in
  the Job's environment): a real test fails, the hook is ``Failed``, and so is the deployment step;
- ``gate``: the Jira version is not as the gate requires (one issue ``In Progress`` when
  ``jira.allowed_statuses`` is set, else the version released early): the first promotion through
  a ``jira`` gate is refused;
- ``signature``: the image's signature is deleted from the registry after the build step pushed
  and signed it (an image copied without its ``.sig``): the first promotion through a
  ``signature`` gate refuses the unsigned image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

FailAt = Literal["scan", "tests", "deploy", "hook", "gate", "signature"]
CHOICES: tuple[str, ...] = ("scan", "tests", "deploy", "hook", "gate", "signature")
WHAT = {
    "scan": "a critical finding (CVE-2021-44228) in the Trivy report gated for SCA",
    "tests": "a failing JUnit test committed to the sample service",
    "deploy": "the Argo CD stand-in reports the app Degraded, its operation Failed",
    "hook": "the PostSync Job's API tests ask for 99 ready replicas (DEMO_API_MIN_READY=99)",
    "gate": "the Jira version is not as the jira gate requires",
    "signature": "the image's signature deleted from the registry after the push",
}
BUILD_STEP = "Build and push image"  # init's step that builds, pushes and signs


def failing_step(fail_at: str, steps: list[Any], environments: Mapping[str, Any]) -> str:
    """The name of the step ``fail_at`` makes fail among the planned ``steps`` ('' when there is none)."""
    if fail_at == "scan":
        return _named(steps, "Security gate")
    if fail_at == "tests":
        return _named(steps, "Unit tests")
    deployments = [s for s in steps if s.deployment]
    if fail_at in ("deploy", "hook"):
        return deployments[0].name if deployments else ""
    gate = "jira" if fail_at == "gate" else "signature"
    gated = [
        env
        for env, conf in environments.items()
        if isinstance(conf, Mapping) and gate in (conf.get("gates") or [])
    ]
    return next((s.name for s in deployments if s.deployment in gated), "")


def _named(steps: list[Any], name: str) -> str:
    return next((s.name for s in steps if s.name == name), "")


def degrade(argocd: Any, app: str) -> None:
    """From now on the stand-in reports ``app`` Degraded, its sync operation Failed, as Argo CD does
    for a Deployment whose pods never become ready."""
    original = argocd.set_state

    def set_state(name: str, **patch: Any) -> None:
        if name == app:
            if patch.get("health") == "Healthy":
                patch["health"] = "Degraded"
            if patch.get("phase") == "Succeeded":
                patch["phase"] = "Failed"
                patch["message"] = (
                    "Deployment/" + app.rsplit("-", 1)[0] + ": progress deadline exceeded "
                    "(rehearsed by --fail-at deploy)"
                )
        original(name, **patch)

    argocd.set_state = set_state


def unsign(registry_url: str, repository: str, digest: str) -> str:
    """Delete the cosign signature of ``digest`` (the ``sha256-<hex>.sig`` tag's manifest);
    what was deleted."""
    from pipekit.core import http

    tag = digest.replace(":", "-") + ".sig"
    accept = ", ".join(
        ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
    )
    with http.session(attempts=2, total_timeout=20, timeout=(5.0, 10.0)) as s:
        head = s.head(f"{registry_url}/v2/{repository}/manifests/{tag}", headers={"Accept": accept})
        found = head.headers.get("Docker-Content-Digest")
        if head.status_code != 200 or not found:
            raise RuntimeError(
                f"--fail-at signature: no signature {repository}:{tag} in the registry to delete "
                f"(HTTP {head.status_code})"
            )
        gone = s.delete(f"{registry_url}/v2/{repository}/manifests/{found}")
        if gone.status_code not in (200, 202):
            raise RuntimeError(
                f"--fail-at signature: the registry refused to delete {repository}:{tag} "
                f"(HTTP {gone.status_code})"
            )
    return f"{repository}:{tag}"
